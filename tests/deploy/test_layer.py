"""The layer ships exactly the runtime dependencies pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib

from tests.deploy.conftest import ROOT


def normalized(requirement: str) -> str:
    name, rest = re.match(r"([A-Za-z0-9._-]+)(.*)", requirement.strip()).groups()
    return re.sub(r"[-_.]+", "-", name).lower() + rest.replace(" ", "")


def layer_requirements() -> set[str]:
    lines = (ROOT / "layers" / "parley" / "requirements.txt").read_text().splitlines()
    return {normalized(line) for line in lines if line.strip() and not line.startswith("#")}


def test_layer_requirements_mirror_the_runtime_dependencies_of_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = {normalized(dep) for dep in pyproject["project"]["dependencies"]}

    assert layer_requirements() == runtime


def test_the_layer_is_built_from_its_directory_for_the_functions_runtime(template):
    layer = template["Resources"]["ParleyLayer"]

    assert layer["Properties"]["ContentUri"] == "layers/parley/"
    assert layer["Properties"]["CompatibleRuntimes"] == [template["Globals"]["Function"]["Runtime"]]
    assert layer["Metadata"] == {"BuildMethod": "python3.12", "BuildArchitecture": "arm64"}
