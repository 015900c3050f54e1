"""The real template behind the dev gateway, and WebSocket clients over real sockets."""

from __future__ import annotations

import json
import socket
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent.parent
WAIT_SECONDS = 10.0


@dataclass
class Peer:
    """One WebSocket connection: acks matched by requestId, other frames kept in order."""

    user_id: uuid.UUID
    socket: ClientConnection
    frames: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0

    def request(self, action: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        self.sent += 1
        request_id = f"{action}-{self.sent}"
        self.socket.send(
            json.dumps({"action": action, "requestId": request_id, "data": data or {}})
        )
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            frame = self._next(deadline)
            if frame.get("type") == "ack" and frame.get("requestId") == request_id:
                return frame
            self.frames.append(frame)

    def wait_for(
        self, frame_type: str, where: Callable[[dict[str, Any]], bool] = lambda data: True
    ) -> dict[str, Any]:
        """The first frame of this type whose data matches (already received or to come)."""
        deadline = time.monotonic() + WAIT_SECONDS
        seen = 0
        while True:
            for frame in self.frames[seen:]:
                if frame.get("type") == frame_type and where(frame.get("data") or {}):
                    self.frames.remove(frame)
                    return frame["data"]
            seen = len(self.frames)
            self.frames.append(self._next(deadline))

    def has(
        self, frame_type: str, where: Callable[[dict[str, Any]], bool] = lambda d: True
    ) -> bool:
        """Whether such a frame arrived, after a ping has flushed everything before it."""
        self.request("ping")
        return any(f["type"] == frame_type and where(f["data"]) for f in self.frames)

    def kill(self) -> None:
        """Drop the TCP connection without a close frame (RST), as a crashed client would."""
        raw = self.socket.socket
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()

    def close(self) -> None:
        self.socket.close()

    def _next(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"nothing more arrived; frames so far: {self.frames}")
        try:
            return json.loads(self.socket.recv(timeout=remaining))
        except TimeoutError as error:
            raise AssertionError(f"nothing more arrived; frames so far: {self.frames}") from error


@dataclass
class Chatters:
    alice: uuid.UUID
    bob: uuid.UUID
    group: uuid.UUID
    lobby: uuid.UUID
    ws_url: str
    peers: list[Peer] = field(default_factory=list)
    sockets: ExitStack = field(default_factory=ExitStack)

    def open(self, user_id: uuid.UUID) -> Peer:
        """Connect, then send the first frame (a ping): that is when queued messages arrive."""
        peer = self.connect(user_id)
        assert peer.request("ping")["message"] == "pong"
        return peer

    def connect(self, user_id: uuid.UUID) -> Peer:
        from parley.auth.tokens import issue_token

        token = issue_token(user_id)[0]
        socket_ = self.sockets.enter_context(
            connect(f"{self.ws_url}?token={token}", open_timeout=WAIT_SECONDS)
        )
        peer = Peer(user_id, socket_)
        self.peers.append(peer)
        return peer


@pytest.fixture
def chatters(gateway_url: str) -> Iterator[Chatters]:
    with chatters_on(gateway_url) as world:
        yield world


@contextmanager
def chatters_on(gateway_url: str) -> Iterator[Chatters]:
    """Alice and Bob with a group and a public lobby, reaching the gateway at `gateway_url`."""
    from parley.db.models import Chat, ChatMember, ChatType, User
    from parley.db.session import session_scope

    alice, bob, group, lobby = (uuid.uuid4() for _ in range(4))
    with session_scope() as session:
        session.add_all(
            [
                User(id=alice, username="alice", password_hash="x"),
                User(id=bob, username="bob", password_hash="x"),
            ]
        )
        session.flush()
        session.add_all(
            [
                Chat(id=group, type=ChatType.GROUP.value, title="Team"),
                Chat(id=lobby, type=ChatType.GROUP.value, title="Lobby", is_public=True),
            ]
        )
        session.flush()
        session.add_all(
            [
                ChatMember(chat_id=group, user_id=alice),
                ChatMember(chat_id=group, user_id=bob),
                ChatMember(chat_id=lobby, user_id=bob),
            ]
        )
    ws_url = gateway_url.replace("http://", "ws://") + "/ws"
    world = Chatters(alice, bob, group, lobby, ws_url)
    yield world
    _close_and_settle(world)


def _close_and_settle(world: Chatters) -> None:
    """Close every socket and wait until each $disconnect has committed its work,
    so that nothing of this test lands in the next one's clean database."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from parley.db.models import User
    from parley.db.session import session_scope
    from parley.stores import connections

    going_offline = set(connections.of_users([world.alice, world.bob]))
    closed_at = datetime.now(UTC)
    with suppress(OSError):  # a killed client's socket is already gone
        world.sockets.close()

    def settled() -> bool:
        if connections.of_users(going_offline):
            return False
        with session_scope() as session:
            seen = session.scalars(select(User.last_seen_at).where(User.id.in_(going_offline)))
            return all(at is not None and at >= closed_at for at in seen)

    deadline = time.monotonic() + WAIT_SECONDS
    while not settled() and time.monotonic() < deadline:
        time.sleep(0.02)
