"""A real LocalStack process for the tests that need one (marked `localstack`).

Its runtime is installed on first use into a virtual environment cached
outside the work tree (~/.cache/parley, or LOCALSTACK_VENV), so only the
first run on a machine pays for the install; each run starts LocalStack
afresh on a free port, once for the whole session.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from parley_dev.localstack import client, requirements_key, start_localstack
from parley_dev.services import free_port
from tests.conftest import ROOT

DATA_DIR = ROOT / ".parley" / "test-localstack"
# The first test to need LocalStack on a new machine installs it (pip, about
# 500 MB): that install, not the test, may take minutes.
INSTALL_BUDGET = pytest.mark.timeout(1200)


def cached_venv() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(
        os.environ.get("LOCALSTACK_VENV") or cache / "parley" / f"localstack-{requirements_key()}"
    )


@pytest.fixture(scope="session")
def localstack() -> Iterator[str]:
    """LocalStack's endpoint (http://127.0.0.1:PORT), for the whole session."""
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    environ = {
        **os.environ,
        "LOCALSTACK_PORT": str(free_port()),
        "LOCALSTACK_VENV": str(cached_venv()),
    }
    service = start_localstack(DATA_DIR, environ, on_step=print)
    try:
        yield service.url
    finally:
        service.stop()


@pytest.fixture
def secretsmanager(localstack: str):
    return client("secretsmanager", localstack)
