"""docs/protocol.md keeps up with the wiring: every action and every error code is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from parley.protocol.errors import ErrorCode
from parley_dev.gateway.template import load_wiring

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent.parent
PROTOCOL = ROOT / "docs" / "protocol.md"
# API Gateway's own routes: not actions a client sends.
RESERVED_ROUTES = {"$connect", "$disconnect", "$default"}


def _actions() -> set[str]:
    wiring = load_wiring(ROOT / "template.yaml")
    (api,) = wiring.websocket_apis
    return set(api.routes) - RESERVED_ROUTES


def _action_headings(text: str) -> set[str]:
    """Every "### `name`" heading (server frames are headed "### `name` frame")."""
    return set(re.findall(r"^### `([^`]+)`\s*$", text, flags=re.MULTILINE))


@pytest.fixture(scope="module")
def protocol() -> str:
    return PROTOCOL.read_text(encoding="utf-8")


def test_the_template_wires_actions() -> None:
    assert {"message", "ping"} <= _actions()


@pytest.mark.parametrize("action", sorted(_actions()))
def test_every_action_has_its_section(protocol: str, action: str) -> None:
    assert action in _action_headings(protocol), f"docs/protocol.md has no '### `{action}`'"


def test_every_action_section_is_a_wired_route(protocol: str) -> None:
    assert _action_headings(protocol) <= _actions()


@pytest.mark.parametrize("code", [code.value for code in ErrorCode])
def test_every_error_code_is_documented(protocol: str, code: str) -> None:
    assert f"`{code}`" in protocol, f"docs/protocol.md does not mention `{code}`"
