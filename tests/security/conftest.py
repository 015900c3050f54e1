"""Attacks from the outside: the real template behind the dev gateway, over real sockets.

Users sign up and in through the HTTP API (as a browser would), open
WebSockets with the tokens they got, and the attacker is just another
client: another address on the loopback network, a forged header, an
unsigned request.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.sync.client import connect

from tests.support.peers import WAIT_SECONDS, Peer

PASSWORD = "correct horse battery"


@dataclass
class SignIn:
    """One sign-in (a session): its user and tokens."""

    user_id: uuid.UUID
    username: str
    access_token: str
    refresh_token: str


class Stack:
    """The HTTP API and the WebSocket API of one running gateway."""

    def __init__(self, url: str, sockets: ExitStack) -> None:
        self.url = url
        self.ws_url = url.replace("http://", "ws://") + "/ws"
        self.sockets = sockets

    def http(self, address: str = "127.0.0.1") -> httpx.Client:
        """An HTTP client whose requests come from `address` (any 127.x.y.z is local)."""
        transport = httpx.HTTPTransport(local_address=address)
        return self.sockets.enter_context(
            httpx.Client(base_url=f"{self.url}/api", transport=transport, timeout=WAIT_SECONDS)
        )

    def register(self, username: str) -> SignIn:
        response = self.http().post(
            "/auth/register", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        return _sign_in(response.json())

    def login(self, username: str, password: str = PASSWORD) -> SignIn:
        response = self.http().post(
            "/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return _sign_in(response.json())

    def direct_chat(self, owner: SignIn, other: SignIn) -> str:
        response = self.http().post(
            "/chats",
            json={"type": "direct", "memberIds": [str(other.user_id)]},
            headers=bearer(owner.access_token),
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def open(self, sign_in: SignIn, *, claimed_host: str | None = None) -> Peer:
        """Connect, then ping (the first frame): the peer is registered and caught up."""
        peer = self.connect(sign_in.access_token, sign_in.user_id, claimed_host=claimed_host)
        assert peer.request("ping")["status"] == "ok"
        return peer

    def connect(self, token: str, user_id: uuid.UUID, *, claimed_host: str | None = None) -> Peer:
        """A WebSocket to the gateway; `claimed_host` is the Host header the handshake sends."""
        url, extra = f"{self.ws_url}?token={token}", {}
        if claimed_host is not None:
            # The TCP connection goes to the gateway; the handshake names another host.
            url = f"ws://{claimed_host}/ws?token={token}"
            extra["sock"] = raw_socket_to(self.url)
        client = self.sockets.enter_context(connect(url, open_timeout=WAIT_SECONDS, **extra))
        return Peer(user_id, client)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _sign_in(body: dict[str, Any]) -> SignIn:
    return SignIn(
        uuid.UUID(body["user"]["id"]),
        body["user"]["username"],
        body["accessToken"],
        body["refreshToken"],
    )


@pytest.fixture
def outside(gateway_url: str) -> Iterator[Stack]:
    with ExitStack() as sockets:
        yield Stack(gateway_url, sockets)
        _close_and_settle(sockets)


def _close_and_settle(sockets: ExitStack) -> None:
    """Close every socket and wait until Redis holds no connection, so that
    nothing of this test lands in the next one's clean state."""
    from parley.stores.client import get_redis

    sockets.close()
    deadline = time.monotonic() + WAIT_SECONDS
    while get_redis().keys("user:*:conns") and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.fixture
def alice(outside: Stack) -> SignIn:
    return outside.register("alice")


@pytest.fixture
def bob(outside: Stack) -> SignIn:
    return outside.register("bob")


# --- a server of the attacker's ------------------------------------------------


@dataclass
class Listener:
    """Any HTTP server a forged Host header could point pushes at; records every request."""

    port: int
    requests: list[tuple[str, str]] = field(default_factory=list)


@pytest.fixture
def attacker_server() -> Iterator[Listener]:
    listener = Listener(0)

    class Record(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            listener.requests.append((self.command, self.path))
            self.send_response(410)
            self.send_header("x-amzn-ErrorType", "GoneException")
            self.send_header("content-length", "0")
            self.end_headers()

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Record)
    listener.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        server.shutdown()
        server.server_close()


def raw_socket_to(url: str) -> socket.socket:
    """A TCP connection to the gateway, whatever Host the client will claim."""
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=WAIT_SECONDS)
