"""The send path under concurrency, through the dev gateway over real sockets.

Many users connecting at the same moment, and more senders at once than the
database pool holds: nobody is unregistered, every acked message reaches
every live connection of every recipient exactly once.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

GROUP_SIZE = 12
ROUNDS = 3
# Opening many sockets at once starts as many execution environments of each
# function, cold; on a busy machine that takes longer than WAIT_SECONDS. The
# bound is API Gateway's own: it waits up to 29 s for $connect to return.
OPEN_SECONDS = 30.0


def _seed_group(size: int) -> tuple[list[uuid.UUID], uuid.UUID]:
    from parley.db.models import Chat, ChatMember, ChatType, User
    from parley.db.session import session_scope

    users = [uuid.uuid4() for _ in range(size)]
    group = uuid.uuid4()
    with session_scope() as session:
        session.add_all(
            User(id=user, username=f"user{n}", password_hash="x") for n, user in enumerate(users)
        )
        session.add(Chat(id=group, type=ChatType.GROUP.value, title="Crowd"))
        session.flush()
        session.add_all(ChatMember(chat_id=group, user_id=user) for user in users)
    return users, group


def _seed_pairs(count: int) -> list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]:
    """`count` direct chats, each between two users of its own: (sender, recipient, chat)."""
    from parley.chat.chats import direct_key
    from parley.db.models import Chat, ChatMember, ChatType, User
    from parley.db.session import session_scope

    pairs = [(uuid.uuid4(), uuid.uuid4(), uuid.uuid4()) for _ in range(count)]
    with session_scope() as session:
        for n, (sender, recipient, _chat) in enumerate(pairs):
            session.add_all(
                [
                    User(id=sender, username=f"sender{n}", password_hash="x"),
                    User(id=recipient, username=f"recipient{n}", password_hash="x"),
                ]
            )
        session.flush()
        for sender, recipient, chat in pairs:
            session.add(
                Chat(id=chat, type=ChatType.DIRECT.value, direct_key=direct_key(sender, recipient))
            )
        session.flush()
        for sender, recipient, chat in pairs:
            session.add_all(
                [
                    ChatMember(chat_id=chat, user_id=sender),
                    ChatMember(chat_id=chat, user_id=recipient),
                ]
            )
    return pairs


class Socket:
    """One client connection read by its own thread: acks by requestId, frames in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.changed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for raw in self.ws:
            frame = json.loads(raw)
            with self.changed:
                if frame.get("type") == "ack":
                    self.acks[frame["requestId"]] = frame
                else:
                    self.frames.append(frame)
                self.changed.notify_all()

    def request(self, action: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        request_id = uuid.uuid4().hex
        self.ws.send(json.dumps({"action": action, "requestId": request_id, "data": data or {}}))
        return self.until(lambda: self.acks.get(request_id))

    def until(self, found: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + OPEN_SECONDS
        with self.changed:
            while not (result := found()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"nothing more arrived; frames so far: {self.frames}")
                self.changed.wait(remaining)
            return result


@pytest.fixture
def sockets(gateway_url: str) -> Iterator[Callable[[list[uuid.UUID]], list[Socket]]]:
    """Opens one socket per user, all at the same moment."""
    from parley.auth.tokens import issue_token

    ws_url = gateway_url.replace("http://", "ws://") + "/ws"
    opened = ExitStack()

    def open_all(users: list[uuid.UUID]) -> list[Socket]:
        tokens = [issue_token(user)[0] for user in users]
        start = threading.Barrier(len(users))

        def open_one(token: str) -> ClientConnection:
            start.wait()
            return connect(f"{ws_url}?token={token}", open_timeout=OPEN_SECONDS)

        with ThreadPoolExecutor(max_workers=len(users)) as pool:
            connected = list(pool.map(open_one, tokens))
        return [Socket(opened.enter_context(ws)) for ws in connected]

    with opened:
        yield open_all


def _close_and_wait_offline(sockets: list[Socket], users: list[uuid.UUID]) -> None:
    from parley.stores import connections, presence

    for socket_ in sockets:
        socket_.ws.close()
    deadline = time.monotonic() + OPEN_SECONDS
    while connections.of_users(users) or any(p.online for p in presence.of_users(users).values()):
        assert time.monotonic() < deadline, "the closed connections were not all unregistered"
        time.sleep(0.02)


def test_a_group_connecting_at_the_same_moment_stays_registered_and_online(sockets) -> None:
    from parley.stores import connections, presence

    users, _group = _seed_group(GROUP_SIZE)
    for _round in range(ROUNDS):
        # Given every member of a group connecting at the same moment
        opened = sockets(users)

        # When each sends its first frame
        with ThreadPoolExecutor(max_workers=len(opened)) as pool:
            acks = list(pool.map(lambda s: s.request("ping"), opened))

        # Then none was unregistered by a push to it while it was connecting
        assert [ack["status"] for ack in acks] == ["ok"] * GROUP_SIZE, acks
        registered = connections.of_users(users)
        assert all(len(registered.get(user, ())) == 1 for user in users), registered
        assert all(p.online for p in presence.of_users(users).values())
        assert len(presence.of_users(users)) == GROUP_SIZE
        _close_and_wait_offline(opened, users)


def test_more_concurrent_senders_than_the_pool_holds_are_all_acked_and_delivered_once(
    sockets,
) -> None:
    from parley.config import get_settings

    # Given twice as many pairs as the database pool holds connections, everyone online
    pool = get_settings().database_pool_size + get_settings().database_max_overflow
    senders_count = 2 * pool + 1
    pairs = _seed_pairs(senders_count)
    senders = sockets([sender for sender, _, _ in pairs])
    recipients = sockets([recipient for _, recipient, _ in pairs])
    recipient_tabs = sockets([recipient for _, recipient, _ in pairs])
    for socket_ in [*senders, *recipients, *recipient_tabs]:
        assert socket_.request("ping")["status"] == "ok"

    # When every sender sends at the same moment, twice
    start = threading.Barrier(senders_count)

    def send_two(index: int) -> list[dict[str, Any]]:
        chat = str(pairs[index][2])
        start.wait()
        return [
            senders[index].request("message", {"chatId": chat, "body": f"m{n} from {index}"})
            for n in range(2)
        ]

    with ThreadPoolExecutor(max_workers=senders_count) as pool:
        acks = list(pool.map(send_two, range(senders_count)))

    # Then every send is acked, and each message reaches both of its recipient's connections once
    for index, pair_acks in enumerate(acks):
        assert [ack["status"] for ack in pair_acks] == ["ok", "ok"], pair_acks
        expected = sorted(ack["message"]["id"] for ack in pair_acks)
        for tab in (recipients[index], recipient_tabs[index]):
            tab.until(lambda tab=tab: len(_message_ids(tab)) >= 2)
            tab.request("ping")  # whatever was still on its way has arrived
            assert sorted(_message_ids(tab)) == expected


def _message_ids(socket_: Socket) -> list[str]:
    return [frame["data"]["id"] for frame in socket_.frames if frame["type"] == "message"]
