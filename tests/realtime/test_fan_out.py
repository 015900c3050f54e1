"""Big groups: the sender's ack does not wait for the recipients; the fan-out
function reaches them in batches, each connection once, retries included."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from parley.events import catalog
from parley.events.eventsource import kafka_event
from tests.realtime.conftest import Client, World, invoke
from tests.support import ROOT

MEMBERS = 7  # alice, bob and five more


@dataclass
class OutboxRecord:
    """An outbox row as the event source hands it over (the same bytes the producer sends)."""

    payload: dict[str, Any]
    offset_: int = 0

    def topic(self) -> str:
        return self.payload["type"]

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self.offset_

    def key(self) -> bytes:
        return self.payload["key"].encode()

    def value(self) -> bytes:
        return json.dumps(self.payload).encode()

    def headers(self) -> list[tuple[str, bytes]]:
        return [("type", self.payload["type"].encode()), ("id", self.payload["id"].encode())]

    def timestamp(self) -> tuple[int, int]:
        return (1, 0)


def message_created(message_id: str) -> dict[str, Any]:
    from parley.db.session import session_scope
    from parley.events.outbox import all_events

    with session_scope() as session:
        (envelope,) = [
            e
            for e in all_events(session)
            if e.type == catalog.MESSAGE_CREATED and e.data["id"] == message_id
        ]
    return envelope.to_json()


def fan_out(message_id: str) -> dict[str, Any]:
    return invoke("fanout", kafka_event([OutboxRecord(message_created(message_id))]))


@pytest.fixture
def big_group(world: World, settings_env) -> list[uuid.UUID]:
    """Alice, bob and five more in world.group; anything past 3 recipients is deferred."""
    from parley.db.models import ChatMember, User
    from parley.db.session import session_scope

    settings_env(
        FAN_OUT_INLINE_MAX_RECIPIENTS=3,
        FAN_OUT_BATCH_SIZE=2,
        BIG_CHAT_MEMBERS=3,
        WEBSOCKET_CONNECTIONS_URL="http://127.0.0.1:9/local",
    )
    others = [uuid.uuid4() for _ in range(MEMBERS - 2)]
    with session_scope() as session:
        session.add_all(User(id=u, username=f"m{u.hex[:10]}", password_hash="x") for u in others)
        session.flush()
        session.add_all(ChatMember(chat_id=world.group, user_id=u) for u in others)
    return [world.alice, world.bob, *others]


def test_a_big_groups_message_is_acked_before_any_recipient_hears_it(
    world: World, big_group: list[uuid.UUID]
) -> None:
    alice, alice_phone = world.online(world.alice), world.online(world.alice)
    recipients = [world.online(user) for user in big_group[1:]]

    ack = alice.send("message", {"chatId": str(world.group), "body": "to everyone"})

    assert ack["status"] == "ok" and ack["message"]["status"] == "SENT"
    assert [f["data"]["id"] for f in alice_phone.frames("message")] == [ack["message"]["id"]]
    assert all(client.frames("message") == [] for client in recipients)


def test_the_fan_out_function_reaches_every_recipient_once_and_tells_the_sender(
    world: World, big_group: list[uuid.UUID]
) -> None:
    alice = world.online(world.alice)
    recipients = [world.online(user) for user in big_group[1:]]
    bob_laptop = world.online(world.bob)
    message_id = alice.send("message", {"chatId": str(world.group), "body": "hi all"})["message"][
        "id"
    ]

    outcome = fan_out(message_id)
    fan_out(message_id)  # the event source delivers it again

    assert outcome == {"processed": 1, "duplicates": 0, "ignored": 0, "deadLettered": 0}
    for client in [*recipients, bob_laptop]:
        assert [f["data"]["id"] for f in client.frames("message")] == [message_id]
    assert alice.frames("message") == []
    statuses = alice.frames("message:status")
    # Only the aggregate: per recipient, a big group's sender asks.
    assert [(f["data"]["status"], f["data"].get("userId")) for f in statuses] == [
        ("DELIVERED", None)
    ]
    assert receipt_statuses(message_id) == {"DELIVERED"}


def test_a_big_groups_message_reaches_its_recipients_with_signed_attachment_urls(
    world: World, big_group: list[uuid.UUID]
) -> None:
    import httpx

    from parley.chat.attachments import issue_upload
    from parley.db.session import session_scope
    from tests.support.images import png

    image = png(6, 4)
    with session_scope() as session:
        issued = issue_upload(
            session, world.group, world.alice, filename="a.png", content_type="image/png",
            size=len(image),
        )  # fmt: skip
    form = issued["upload"]
    stored = httpx.post(form["url"], data=form["fields"], files={"file": ("a.png", image)})
    assert stored.status_code == 204
    alice, bob = world.online(world.alice), world.online(world.bob)
    data = {"chatId": str(world.group), "attachments": [issued["attachmentId"]]}
    message_id = alice.send("message", data)["message"]["id"]

    fan_out(message_id)

    (frame,) = bob.frames("message")
    (attachment,) = frame["data"]["attachments"]
    assert attachment["id"] == issued["attachmentId"] and attachment["width"] == 6
    assert httpx.get(attachment["url"], timeout=10).content == image


def test_a_failed_batch_is_retried_without_pushing_twice(
    world: World, big_group: list[uuid.UUID], monkeypatch: pytest.MonkeyPatch
) -> None:
    from parley.chat import receipts

    alice = world.online(world.alice)
    recipients = [world.online(user) for user in big_group[1:]]
    message_id = alice.send("message", {"chatId": str(world.group), "body": "again"})["message"][
        "id"
    ]
    mark = receipts.mark_delivered
    failures = iter([True])

    def failing_once(*args: Any, **kwargs: Any) -> Any:
        if next(failures, False):
            raise RuntimeError("PostgreSQL went away")
        return mark(*args, **kwargs)

    monkeypatch.setattr(receipts, "mark_delivered", failing_once)

    outcome = fan_out(message_id)

    assert outcome["processed"] == 1 and outcome["deadLettered"] == 0
    for client in recipients:
        assert [f["data"]["id"] for f in client.frames("message")] == [message_id]
    assert receipt_statuses(message_id) == {"DELIVERED"}


def test_a_small_groups_message_is_left_to_the_sending_invocation(world: World) -> None:
    alice = world.online(world.alice)
    bob = world.online(world.bob)
    message_id = alice.send("message", {"chatId": str(world.group), "body": "just us"})["message"][
        "id"
    ]

    fan_out(message_id)

    assert [f["data"]["id"] for f in bob.frames("message")] == [message_id]


def fan_out_source_filter():
    """The fan-out function's event source filter, as the template declares it."""
    from parley_dev.gateway.template import load_wiring

    wiring = load_wiring(ROOT / "template.yaml")
    (mapping,) = [m for m in wiring.kafka_mappings if m.function == "FanOutFunction"]
    assert mapping.record_filter is not None
    return mapping.record_filter


def test_only_a_deferred_fan_out_passes_the_fan_out_functions_event_source(
    world: World, settings_env
) -> None:
    alice = world.online(world.alice)
    inline = alice.send("message", {"chatId": str(world.group), "body": "to bob"})
    settings_env(FAN_OUT_INLINE_MAX_RECIPIENTS=0)
    deferred = alice.send("message", {"chatId": str(world.group), "body": "to bob, later"})

    source_filter = fan_out_source_filter()

    values = [
        OutboxRecord(message_created(ack["message"]["id"])).value() for ack in (inline, deferred)
    ]
    assert [source_filter.accepts_kafka_value(value) for value in values] == [False, True]


def test_typing_in_a_big_group_shows_one_start_per_interval_and_no_stop(
    world: World, big_group: list[uuid.UUID]
) -> None:
    alice, bob = world.online(world.alice), world.online(world.bob)
    watcher: Client = world.online(big_group[2])
    chat = str(world.group)

    first = alice.send("typing", {"chatId": chat, "isTyping": True})
    second = bob.send("typing", {"chatId": chat, "isTyping": True})
    stop = alice.send("typing", {"chatId": chat, "isTyping": False})

    assert [first["message"]["sent"], second["message"]["sent"], stop["message"]["sent"]] == [
        True,
        False,
        False,
    ]
    assert [(f["data"]["userId"], f["data"]["isTyping"]) for f in watcher.frames("typing")] == [
        (str(world.alice), True)
    ]


def receipt_statuses(message_id: str) -> set[str]:
    from sqlalchemy import select

    from parley.db.models import Receipt, ReceiptStatus
    from parley.db.session import session_scope

    with session_scope() as session:
        values = session.scalars(
            select(Receipt.status).where(Receipt.message_id == uuid.UUID(message_id))
        )
        return {ReceiptStatus(value).wire for value in values}


def test_joining_a_full_group_is_refused_with_its_limit(world: World, settings_env) -> None:
    settings_env(GROUP_MAX_MEMBERS=1)  # the lobby already holds bob
    carol = world.online(world.carol)

    refused = carol.send("chat:join", {"chatId": str(world.public)})

    assert (refused["status"], refused["code"]) == ("error", "conflict")
    assert refused["message"] == "a group holds at most 1 members"


def test_presence_reaches_those_sharing_a_small_chat_only(
    world: World, big_group: list[uuid.UUID]
) -> None:
    from parley.db.models import ChatMember
    from parley.db.session import session_scope

    with session_scope() as session:  # alice and carol: a chat of two
        session.add(ChatMember(chat_id=world.private, user_id=world.alice))
    alice = world.online(world.alice)
    stranger = world.online(big_group[3])

    world.online(world.bob)  # shares only the big group with alice
    world.online(world.carol)

    assert [f["data"]["userId"] for f in alice.frames("users:update")] == [str(world.carol)]
    assert stranger.frames("users:update") == []
