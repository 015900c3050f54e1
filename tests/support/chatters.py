"""Alice and Bob with a group and a public lobby, and their WebSocket clients."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field

from websockets.sync.client import connect

from tests.support.peers import WAIT_SECONDS, Peer


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
