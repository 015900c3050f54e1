"""What the Lambda layer ships: its requirements and the distributions `sam build` installs.

The layer is `layers/parley/` (the `parley` package) plus what
`requirements.txt` pulls in, dependencies included. The local virtual
environment holds more (the dev tools: moto, pytest, ...); what is in the
environment but not in the layer is invisible to a function on AWS, and the
measurements that stand for AWS (the layer's size, a cold start's imports)
leave it out.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# The functions' runtime (template.yaml), for the requirements' markers.
PYTHON_VERSION = "3.12"


def normalized(requirement: str) -> str:
    name, rest = re.match(r"([A-Za-z0-9._-]+)(.*)", requirement.strip()).groups()
    return re.sub(r"[-_.]+", "-", name).lower() + rest.replace(" ", "")


def layer_requirements(root: Path) -> set[str]:
    lines = (root / "layers" / "parley" / "requirements.txt").read_text().splitlines()
    return {normalized(line) for line in lines if line.strip() and not line.startswith("#")}


def layer_distributions(root: Path) -> dict[str, importlib.metadata.Distribution]:
    """What `sam build` installs for requirements.txt: each requirement and what it needs."""
    found: dict[str, importlib.metadata.Distribution] = {}
    requirements = [Requirement(line) for line in sorted(layer_requirements(root))]
    pending = [(requirement, set(requirement.extras)) for requirement in requirements]
    while pending:
        requirement, extras = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        distribution = importlib.metadata.distribution(name)
        found[name] = distribution
        for needed in distribution.requires or []:
            dependency = Requirement(needed)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if dependency.marker is None or any(
                dependency.marker.evaluate({**env, "python_version": PYTHON_VERSION})
                for env in environments
            ):
                pending.append((dependency, set(dependency.extras)))
    return found


def top_level_names(distribution: importlib.metadata.Distribution) -> set[str]:
    """The names a distribution installs at the top of site-packages (modules, packages)."""
    names = set()
    for file in distribution.files or []:
        first = file.parts[0]
        if first.endswith((".dist-info", ".egg-info", ".pth")) or first in {"..", "__pycache__"}:
            continue
        if len(file.parts) == 1:
            if not first.endswith((".py", ".so", ".pyd")):
                continue
            first = first.split(".")[0]
        names.add(first)
    return names


def not_in_layer(root: Path) -> set[str]:
    """Top-level modules installed here that a function on AWS could not import."""
    shipped = {canonicalize_name(name) for name in layer_distributions(root)}
    in_layer: set[str] = {"parley"}
    elsewhere: set[str] = set()
    for distribution in importlib.metadata.distributions():
        names = top_level_names(distribution)
        if canonicalize_name(distribution.metadata["Name"]) in shipped:
            in_layer |= names
        else:
            elsewhere |= names
    return elsewhere - in_layer
