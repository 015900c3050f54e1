"""The real template behind the dev gateway, and WebSocket clients over real sockets."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.chatters import Chatters, chatters_on


@pytest.fixture
def chatters(gateway_url: str) -> Iterator[Chatters]:
    with chatters_on(gateway_url) as world:
        yield world


@pytest.fixture
def api(gateway_url: str) -> Iterator[httpx.Client]:
    """The REST API of the running gateway, over HTTP."""
    with httpx.Client(base_url=f"{gateway_url}/api", timeout=10) as client:
        yield client
