"""The layer ships exactly the runtime dependencies pyproject.toml declares."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest

from parley_dev.layer import layer_distributions, layer_requirements, normalized
from tests.deploy.conftest import ROOT

pytestmark = pytest.mark.unit


def test_layer_requirements_mirror_the_runtime_dependencies_of_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = {normalized(dep) for dep in pyproject["project"]["dependencies"]}

    assert layer_requirements(ROOT) == runtime


def test_the_layer_is_built_from_its_directory_for_the_functions_runtime(template):
    layer = template["Resources"]["ParleyLayer"]

    assert layer["Properties"]["ContentUri"] == "layers/parley/"
    assert layer["Properties"]["CompatibleRuntimes"] == [template["Globals"]["Function"]["Runtime"]]
    assert layer["Metadata"] == {"BuildMethod": "python3.12", "BuildArchitecture": "arm64"}


# Lambda's limit for a function's code and all its layers, unzipped.
LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
# The functions' own code is a few kilobytes; arm64 / 3.12 wheels differ from
# the ones measured here by a few percent. What is left is headroom.
LAYER_BUDGET_BYTES = int(LAMBDA_UNZIPPED_LIMIT_BYTES * 0.8)


def _installed_size(distribution: importlib.metadata.Distribution) -> int:
    total = 0
    for file in distribution.files or []:
        path = Path(distribution.locate_file(file))
        if path.is_file() and "__pycache__" not in path.parts:
            total += path.stat().st_size
    return total


def test_the_layer_unzipped_stays_well_within_lambdas_limit():
    sizes = {name: _installed_size(d) for name, d in layer_distributions(ROOT).items()}
    parley = sum(f.stat().st_size for f in (ROOT / "layers" / "parley").rglob("*.py"))
    total = sum(sizes.values()) + parley

    heaviest = sorted(sizes.items(), key=lambda item: -item[1])[:5]
    assert total <= LAYER_BUDGET_BYTES, (
        f"the layer would unzip to {total / 2**20:.0f} MiB (budget "
        f"{LAYER_BUDGET_BYTES / 2**20:.0f} MiB of Lambda's 250); heaviest: "
        + ", ".join(f"{name} {size / 2**20:.0f} MiB" for name, size in heaviest)
    )
    # The measurement sees the real dependencies, not an empty environment.
    assert {"sqlalchemy", "botocore", "pydantic-core", "confluent-kafka"} <= set(sizes)
