# Two commands: `make run` serves the whole stack, `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-unit lint services clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "parley needs Python 3.11 or newer (found: $$($(PYTHON) --version))"; exit 1; }
	@echo "==> creating $(VENV) and installing parley (first run takes a minute)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -qq --upgrade pip
	@$(BIN)/pip install -qq -e '.[dev]'
	@touch $(STAMP)

# `make run AWS=localstack`: every AWS call goes to LocalStack (README).
run: $(STAMP)
	@$(BIN)/parley-dev up $(if $(AWS),--aws $(AWS))

test: lint
	@$(BIN)/parley-dev browser-deps
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

# The tests that need no service: seconds, nothing started.
test-unit: lint
	@$(BIN)/python -m pytest -m unit $(PYTEST_ARGS)

lint: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check --quiet . || { echo "ruff format would change the files above: run $(BIN)/ruff format ."; exit 1; }

services: $(STAMP)
	@$(BIN)/parley-dev services $(if $(AWS),--aws $(AWS))

clean:
	rm -rf $(VENV) .parley .pytest_cache
