"""Sending, delivery and read receipts."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from tests.realtime.conftest import World, outbox_types
from tests.support.connections import ConnectionsRecorder


def _count(model) -> int:
    from parley.db.session import session_scope

    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_send_stores_the_message_with_the_next_seq_and_acks_it(world: World) -> None:
    from parley.db.models import Chat, Message, Receipt
    from parley.db.session import session_scope

    alice = world.online(world.alice)

    first = alice.send("message", {"chatId": str(world.group), "body": "hi"}, request_id="a1")
    second = alice.send("message", {"chatId": str(world.group), "body": "there"})

    assert first["type"] == "ack" and first["requestId"] == "a1" and first["status"] == "ok"
    message = first["message"]
    assert message["chatId"] == str(world.group)
    assert message["senderId"] == str(world.alice)
    assert message["body"] == "hi"
    assert (message["seq"], second["message"]["seq"]) == (1, 2)
    assert message["status"] == "SENT"
    assert message["isPinned"] is False and message["isForwarded"] is False
    with session_scope() as session:
        assert session.get(Chat, world.group).last_seq == 2
        stored = session.get(Message, uuid.UUID(message["id"]))
        assert stored.body == "hi"
        receipt = session.get(Receipt, (stored.id, world.bob))
        assert receipt.status == 1  # bob is offline: SENT
    created = [t for t in outbox_types() if t == "message.created"]
    assert len(created) == 2


def test_send_fans_out_to_every_member_connection_but_the_sending_one(world: World) -> None:
    alice = world.online(world.alice)
    alice_phone = world.online(world.alice)
    bob = world.online(world.bob)
    bob_phone = world.online(world.bob)

    ack = alice.send("message", {"chatId": str(world.group), "body": "hello"})

    message_id = ack["message"]["id"]
    for client in (alice_phone, bob, bob_phone):
        assert [frame["data"]["id"] for frame in client.frames("message")] == [message_id]
    assert alice.frames("message") == []
    # Bob was reached: the sender hears DELIVERED (per recipient and aggregate), and the ack
    # already carries it.
    assert ack["message"]["status"] == "DELIVERED"
    statuses = [frame["data"] for frame in alice.frames("message:status")]
    assert {
        "messageId": message_id,
        "chatId": str(world.group),
        "userId": str(world.bob),
        "status": "DELIVERED",
    } in statuses
    assert alice_phone.frames("message:status") == alice.frames("message:status")


def test_retry_with_same_client_message_id_returns_the_stored_message_and_sends_nothing(
    world: World,
) -> None:
    from parley.db.models import Message

    alice = world.online(world.alice)
    bob = world.online(world.bob)
    data = {"chatId": str(world.group), "body": "once", "clientMessageId": "c-42"}

    first = alice.send("message", data)
    pushes = len(world.recorder.posts)
    retry = alice.send("message", data)

    assert retry["message"]["id"] == first["message"]["id"]
    assert retry["message"]["clientMessageId"] == "c-42"
    assert _count(Message) == 1
    assert len(world.recorder.posts) == pushes
    assert len(bob.frames("message")) == 1
    assert outbox_types().count("message.created") == 1


def test_a_lost_client_message_id_race_returns_the_winner(world: World) -> None:
    """The unique index decides: the loser's insert fails and it answers the stored row."""
    from parley.chat.context import ActionContext
    from parley.chat.messages import _publish
    from parley.db.models import Message
    from parley.db.session import unit_of_work

    alice = world.online(world.alice)
    winner = alice.send(
        "message", {"chatId": str(world.group), "body": "w", "clientMessageId": "race"}
    )

    with unit_of_work() as work:
        ctx = ActionContext(work, world.alice, alice.connection_id)
        view = _publish(
            ctx,
            {world.alice, world.bob},
            Message(chat_id=world.group, sender_id=world.alice, body="l", client_message_id="race"),
        )

    assert view["id"] == winner["message"]["id"]
    assert _count(Message) == 1


def test_reply_to_a_message_of_another_chat_is_a_bad_request(world: World) -> None:
    from parley.db.models import Message

    world.online(world.bob)
    bob = world.online(world.bob)
    elsewhere = bob.send("message", {"chatId": str(world.public), "body": "lobby"})

    ack = bob.send(
        "message",
        {"chatId": str(world.group), "body": "re", "replyToId": elsewhere["message"]["id"]},
    )
    reply = bob.send(
        "message",
        {"chatId": str(world.public), "body": "re", "replyToId": elsewhere["message"]["id"]},
    )

    assert ack["code"] == "bad_request"
    assert reply["message"]["replyToId"] == elsewhere["message"]["id"]
    assert _count(Message) == 2


def test_a_gone_connection_is_removed_at_once_and_counts_as_not_delivered(world: World) -> None:
    from parley.db.models import Receipt
    from parley.db.session import session_scope
    from parley.stores import connections, presence

    alice = world.online(world.alice)
    bob = world.online(world.bob)
    world.recorder.gone.add(bob.connection_id)

    ack = alice.send("message", {"chatId": str(world.group), "body": "anyone?"})

    assert connections.get(bob.connection_id) is None
    assert ack["message"]["status"] == "SENT"
    with session_scope() as session:
        receipt = session.get(Receipt, (uuid.UUID(ack["message"]["id"]), world.bob))
        assert receipt.status == 1
    # It was bob's only connection: bob is offline now, and alice is told.
    assert not presence.of_users([world.bob])[world.bob].online
    assert alice.frames("users:update")[-1]["data"]["online"] is False


def test_read_marks_every_earlier_message_read_and_the_sender_hears_it(world: World) -> None:
    from parley.db.models import ChatMember, Receipt
    from parley.db.session import session_scope

    alice = world.online(world.alice)
    bob = world.online(world.bob)
    sent = [
        alice.send("message", {"chatId": str(world.group), "body": f"m{n}"})["message"]
        for n in range(3)
    ]

    ack = bob.send("message:read", {"chatId": str(world.group), "messageId": sent[1]["id"]})

    assert ack["status"] == "ok"
    assert ack["message"]["upToSeq"] == sent[1]["seq"]
    assert ack["message"]["changed"] == 2
    with session_scope() as session:
        statuses = [session.get(Receipt, (uuid.UUID(m["id"]), world.bob)).status for m in sent]
        assert statuses == [3, 3, 2]
        member = session.get(ChatMember, (world.group, world.bob))
        assert member.last_read_seq == sent[1]["seq"]
    frames = [frame["data"] for frame in alice.frames("message:status")]
    read = [f for f in frames if f["status"] == "READ"]
    assert {(f["messageId"], f.get("userId"), f.get("aggregate")) for f in read} == {
        (sent[0]["id"], str(world.bob), None),
        (sent[1]["id"], str(world.bob), None),
        (sent[0]["id"], None, True),
        (sent[1]["id"], None, True),
    }
    events = outbox_types()
    assert events.count("message.read") == 2


def test_aggregate_status_is_the_least_advanced_over_recipients(world: World) -> None:
    from parley.db.models import ChatMember
    from parley.db.session import session_scope

    with session_scope() as session:
        session.add(ChatMember(chat_id=world.group, user_id=world.carol))
    alice = world.online(world.alice)
    bob = world.online(world.bob)
    sent = alice.send("message", {"chatId": str(world.group), "body": "all of you"})["message"]
    assert sent["status"] == "SENT"  # carol is offline

    bob.send("message:read", {"chatId": str(world.group), "messageId": sent["id"]})
    aggregates = [f["data"] for f in alice.frames("message:status") if f["data"].get("aggregate")]
    assert aggregates == []  # still SENT for carol

    carol = world.online(world.carol)  # catch-up delivers to carol
    aggregates = [f["data"] for f in alice.frames("message:status") if f["data"].get("aggregate")]
    assert [a["status"] for a in aggregates] == ["DELIVERED"]

    carol.send("message:read", {"chatId": str(world.group), "messageId": sent["id"]})
    aggregates = [f["data"] for f in alice.frames("message:status") if f["data"].get("aggregate")]
    assert [a["status"] for a in aggregates] == ["DELIVERED", "READ"]


def test_delivered_confirmation_from_the_client_moves_sent_to_delivered_once(
    world: World,
) -> None:
    alice = world.online(world.alice)
    sent = alice.send("message", {"chatId": str(world.group), "body": "ping me"})["message"]
    bob = world.connect(world.bob)  # connected, catch-up not yet run
    from parley.stores.client import get_redis

    get_redis().delete(f"conn:{bob.connection_id}:catchup")

    first = bob.send("message:delivered", {"messageId": sent["id"]})
    again = bob.send("message:delivered", {"messageId": sent["id"]})

    assert first["message"]["changed"] == 1 and again["message"]["changed"] == 0
    assert outbox_types().count("message.delivered") == 1


def test_the_sender_cannot_confirm_delivery_of_their_own_message(world: World) -> None:
    alice = world.online(world.alice)
    sent = alice.send("message", {"chatId": str(world.group), "body": "mine"})["message"]
    events_before = outbox_types()

    ack = alice.send("message:delivered", {"messageId": sent["id"]})

    assert ack["status"] == "error" and ack["code"] == "forbidden"
    assert "sender" in ack["message"]
    assert outbox_types() == events_before


@pytest.mark.parametrize("action", ["message:delivered", "message:read"])
def test_a_message_outside_the_given_chat_is_not_found_even_in_a_chat_of_the_caller(
    world: World, action: str
) -> None:
    alice = world.online(world.alice)
    bob = world.online(world.bob)
    sent = alice.send("message", {"chatId": str(world.group), "body": "team only"})["message"]
    events_before = outbox_types()

    ack = bob.send(action, {"chatId": str(world.public), "messageId": sent["id"]})

    assert ack["status"] == "error" and ack["code"] == "not_found"
    assert ack["message"] == "message not found"
    assert outbox_types() == events_before


def test_reading_up_to_ones_own_message_reads_what_came_before_it(world: World) -> None:
    alice = world.online(world.alice)
    bob = world.online(world.bob)
    from_alice = alice.send("message", {"chatId": str(world.group), "body": "hi"})["message"]
    reply = bob.send("message", {"chatId": str(world.group), "body": "hello"})["message"]

    ack = bob.send("message:read", {"chatId": str(world.group), "messageId": reply["id"]})

    assert ack["status"] == "ok" and ack["message"]["changed"] == 1
    read = [f["data"] for f in alice.frames("message:status") if f["data"]["status"] == "READ"]
    assert {f["messageId"] for f in read} == {from_alice["id"]}


def test_the_sent_message_lands_in_the_message_cache(world: World) -> None:
    from parley.stores import message_cache

    alice = world.online(world.alice)
    sent = alice.send("message", {"chatId": str(world.group), "body": "cached"})["message"]

    cached = message_cache.get(sent["id"])
    assert cached["body"] == "cached" and "status" not in cached
    assert [view["id"] for view in message_cache.recent(world.group)] == [sent["id"]]


def test_a_connection_still_connecting_that_answers_410_is_kept_and_catches_up(
    world: World,
) -> None:
    from parley.stores import connections, presence

    # Given bob's $connect has registered his connection, but no frame came yet
    alice = world.online(world.alice)
    bob = world.connect(world.bob)
    world.recorder.gone.add(bob.connection_id)

    # When a push to it answers 410 (API Gateway does so until $connect returns)
    ack = alice.send("message", {"chatId": str(world.group), "body": "early"})

    # Then it stays registered, bob stays online, and the message waits for him
    assert ack["message"]["status"] == "SENT"
    assert connections.get(bob.connection_id) is not None
    assert presence.of_users([world.bob])[world.bob].online
    world.recorder.gone.discard(bob.connection_id)
    assert bob.send("ping")["status"] == "ok"
    assert [f["data"]["id"] for f in bob.frames("message")] == [ack["message"]["id"]]


def test_a_410_to_a_connection_that_sends_its_first_frame_meanwhile_does_not_remove_it(
    world: World,
) -> None:
    from parley.stores import connections, presence

    # Given bob still connecting, and his first frame arriving just after
    # API Gateway answered 410 to a push to him (before that 410 is acted on)
    alice = world.online(world.alice)
    bob = world.connect(world.bob)
    answer_gone = world.recorder.post_to_connection

    def gone_then_first_frame(*, ConnectionId: str, Data: bytes) -> dict:
        if ConnectionId != bob.connection_id:
            return answer_gone(ConnectionId=ConnectionId, Data=Data)
        connections.claim(bob.connection_id)
        raise_gone = ConnectionsRecorder(gone={ConnectionId})
        return raise_gone.post_to_connection(ConnectionId=ConnectionId, Data=Data)

    world.recorder.post_to_connection = gone_then_first_frame

    # When alice's message reaches him that way
    alice.send("message", {"chatId": str(world.group), "body": "just in time"})

    # Then his connection stays registered and he stays online
    assert connections.get(bob.connection_id) is not None
    assert presence.of_users([world.bob])[world.bob].online


def test_an_unconfirmed_connection_older_than_any_connect_that_answers_410_is_removed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from parley.config import get_settings
    from parley.stores import connections

    alice = world.online(world.alice)
    bob = world.connect(world.bob)
    world.recorder.gone.add(bob.connection_id)
    monkeypatch.setattr(get_settings(), "connection_confirm_seconds", 0.0)

    alice.send("message", {"chatId": str(world.group), "body": "anyone?"})

    assert connections.get(bob.connection_id) is None


def test_a_send_holds_one_database_connection_from_start_to_end(world: World) -> None:
    from sqlalchemy import event

    from parley.db.session import get_engine

    alice = world.online(world.alice)
    world.online(world.bob)
    held, most = [0], [0]

    def checkout(*_args) -> None:
        held[0] += 1
        most[0] = max(most[0], held[0])

    def checkin(*_args) -> None:
        held[0] -= 1

    pool = get_engine().pool
    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)
    try:
        # The send, its delivery transaction and the publish of its events
        ack = alice.send("message", {"chatId": str(world.group), "body": "one connection"})
    finally:
        event.remove(pool, "checkout", checkout)
        event.remove(pool, "checkin", checkin)

    assert ack["message"]["status"] == "DELIVERED"
    assert most[0] == 1


def test_frames_never_wait_for_the_broker(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from parley.events import publisher

    alice = world.online(world.alice)
    bob = world.online(world.bob)
    posts_at_wait: list[int] = []
    wait = publisher.wait

    def waiting(producer, rows, delivery, timeout):
        posts_at_wait.append(len(world.recorder.posts))
        return wait(producer, rows, delivery, timeout)

    monkeypatch.setattr(publisher, "wait", waiting)
    ack = alice.send("message", {"chatId": str(world.group), "body": "frames first"})

    # Bob's frame and alice's DELIVERED went out before the one wait for the broker
    assert [f["data"]["id"] for f in bob.frames("message")] == [ack["message"]["id"]]
    assert alice.frames("message:status")
    assert posts_at_wait == [len(world.recorder.posts)]
