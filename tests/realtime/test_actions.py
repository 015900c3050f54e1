"""Pins, forwards, edits, deletes, joining and leaving, typing, users:list, $default."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from tests.realtime.conftest import Client, World, outbox_types


@pytest.fixture
def pair(world: World) -> tuple[Client, Client, dict]:
    alice = world.online(world.alice)
    bob = world.online(world.bob)
    sent = alice.send("message", {"chatId": str(world.group), "body": "original"})["message"]
    return alice, bob, sent


def test_pin_marks_the_message_and_tells_the_members(world: World, pair) -> None:
    alice, bob, sent = pair

    ack = bob.send("message:pin", {"messageId": sent["id"]})

    pinned = ack["message"]
    assert pinned["isPinned"] is True
    assert pinned["pinnedBy"] == str(world.bob) and pinned["pinnedAt"]
    assert alice.frames("message:pinned")[-1]["data"]["id"] == sent["id"]
    assert bob.frames("message:pinned") == []  # the acting connection has its ack
    assert "message.pinned" in outbox_types()


def test_unpin_clears_the_pin_and_tells_the_members(world: World, pair) -> None:
    alice, bob, sent = pair
    bob.send("message:pin", {"messageId": sent["id"]})

    ack = bob.send("message:unpin", {"messageId": sent["id"]})

    assert ack["message"]["isPinned"] is False and ack["message"]["pinnedBy"] is None
    assert alice.frames("message:unpinned")[-1]["data"]["isPinned"] is False
    assert "message.unpinned" in outbox_types()


def test_pinning_past_the_limit_of_a_chat_is_a_conflict(
    world: World, pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    from parley.config import get_settings

    alice, _bob, first = pair
    second = alice.send("message", {"chatId": str(world.group), "body": "two"})["message"]
    monkeypatch.setattr(get_settings(), "max_pins_per_chat", 1)

    assert alice.send("message:pin", {"messageId": first["id"]})["status"] == "ok"
    refused = alice.send("message:pin", {"messageId": second["id"]})

    assert refused["code"] == "conflict"


def test_pin_invalidates_the_cached_message(world: World, pair) -> None:
    from parley.stores import message_cache

    _alice, bob, sent = pair
    assert message_cache.get(sent["id"]) is not None

    bob.send("message:pin", {"messageId": sent["id"]})

    assert message_cache.get(sent["id"]) is None


def test_forward_creates_a_forwarded_message_in_the_target_chat(world: World, pair) -> None:
    _alice, bob, sent = pair

    ack = bob.send("message:forward", {"messageId": sent["id"], "toChatId": str(world.public)})

    forwarded = ack["message"]
    assert forwarded["chatId"] == str(world.public)
    assert forwarded["senderId"] == str(world.bob)
    assert forwarded["body"] == "original"
    assert forwarded["isForwarded"] is True
    assert forwarded["forwardedFromId"] == sent["id"]
    assert forwarded["originalSenderId"] == str(world.alice)
    assert forwarded["seq"] == 1
    events = outbox_types()
    assert "message.forwarded" in events and events.count("message.created") == 2


def test_forwarding_a_forward_keeps_the_first_original_sender(world: World, pair) -> None:
    _alice, bob, sent = pair
    once = bob.send("message:forward", {"messageId": sent["id"], "toChatId": str(world.public)})

    twice = bob.send(
        "message:forward", {"messageId": once["message"]["id"], "toChatId": str(world.group)}
    )

    assert twice["message"]["originalSenderId"] == str(world.alice)
    assert twice["message"]["forwardedFromId"] == once["message"]["id"]


def test_forward_to_a_chat_the_caller_is_not_in_is_not_found(world: World, pair) -> None:
    alice, _bob, sent = pair

    ack = alice.send("message:forward", {"messageId": sent["id"], "toChatId": str(world.public)})

    assert ack["code"] == "not_found"


def test_edit_by_the_sender_changes_the_body_and_tells_the_members(world: World, pair) -> None:
    alice, bob, sent = pair

    ack = alice.send("message:edit", {"messageId": sent["id"], "body": "better"})

    assert ack["message"]["body"] == "better" and ack["message"]["editedAt"]
    assert bob.frames("message:edited")[-1]["data"]["body"] == "better"
    assert "message.edited" in outbox_types()


def test_edit_by_anyone_but_the_sender_is_forbidden(world: World, pair) -> None:
    _alice, bob, sent = pair

    ack = bob.send("message:edit", {"messageId": sent["id"], "body": "mine now"})

    assert ack["code"] == "forbidden"


def test_edit_after_the_edit_window_is_forbidden(world: World, pair) -> None:
    from parley.db.models import Message
    from parley.db.session import session_scope

    alice, _bob, sent = pair
    with session_scope() as session:
        session.execute(
            update(Message)
            .where(Message.id == uuid.UUID(sent["id"]))
            .values(created_at=datetime.now(UTC) - timedelta(hours=49))
        )

    ack = alice.send("message:edit", {"messageId": sent["id"], "body": "too late"})

    assert ack["code"] == "forbidden"


def test_delete_empties_the_body_and_tells_the_members(world: World, pair) -> None:
    alice, bob, sent = pair

    ack = alice.send("message:delete", {"messageId": sent["id"]})
    again = alice.send("message:delete", {"messageId": sent["id"]})
    edit = alice.send("message:edit", {"messageId": sent["id"], "body": "back"})

    assert ack["message"]["body"] == "" and ack["message"]["deletedAt"]
    assert again["message"]["deletedAt"] == ack["message"]["deletedAt"]
    assert bob.frames("message:deleted")[-1]["data"]["id"] == sent["id"]
    assert edit["code"] == "conflict"
    assert outbox_types().count("message.deleted") == 1


def test_delete_by_anyone_but_the_sender_is_forbidden(world: World, pair) -> None:
    _alice, bob, sent = pair

    assert bob.send("message:delete", {"messageId": sent["id"]})["code"] == "forbidden"


def test_join_a_public_group_adds_the_member_and_tells_the_others(world: World) -> None:
    bob = world.online(world.bob)
    alice = world.online(world.alice)

    ack = alice.send("chat:join", {"chatId": str(world.public)})
    sent = alice.send("message", {"chatId": str(world.public), "body": "hello lobby"})

    assert ack["message"]["id"] == str(world.public)
    assert bob.frames("chat:member")[-1]["data"] == {
        "chatId": str(world.public),
        "userId": str(world.alice),
        "event": "joined",
        "by": str(world.alice),
    }
    assert sent["status"] == "ok"
    assert "chat.member.joined" in outbox_types()


def test_join_a_private_group_is_not_found(world: World) -> None:
    alice = world.online(world.alice)

    assert alice.send("chat:join", {"chatId": str(world.private)})["code"] == "not_found"


def test_after_leaving_a_chat_sending_to_it_is_refused(world: World) -> None:
    alice = world.online(world.alice)
    bob = world.online(world.bob)

    ack = bob.send("chat:leave", {"chatId": str(world.group)})
    refused = bob.send("message", {"chatId": str(world.group), "body": "still here?"})

    assert ack["status"] == "ok"
    assert alice.frames("chat:member")[-1]["data"]["event"] == "left"
    assert refused["code"] in {"forbidden", "not_found"}
    assert "chat.member.left" in outbox_types()


def _add_to_group(world: World, user_id: uuid.UUID) -> None:
    from parley.db.models import ChatMember
    from parley.db.session import session_scope

    with session_scope() as session:
        session.add(ChatMember(chat_id=world.group, user_id=user_id))


def _connected_without_catch_up(world: World, user_id: uuid.UUID) -> Client:
    """A live connection whose queued messages stay queued (SENT)."""
    from parley.stores.client import get_redis

    client = world.connect(user_id)
    get_redis().delete(f"conn:{client.connection_id}:catchup")
    return client


def test_leaving_with_the_last_pending_receipt_tells_the_sender_the_new_aggregate(
    world: World,
) -> None:
    from parley.db.models import Receipt
    from parley.db.session import session_scope

    _add_to_group(world, world.carol)
    alice = world.online(world.alice)
    world.online(world.bob)
    sent = alice.send("message", {"chatId": str(world.group), "body": "all of you"})["message"]
    assert sent["status"] == "SENT"  # bob has it, carol is away
    carol = _connected_without_catch_up(world, world.carol)

    ack = carol.send("chat:leave", {"chatId": str(world.group)})

    assert ack["status"] == "ok"
    aggregates = [f["data"] for f in alice.frames("message:status") if f["data"].get("aggregate")]
    assert aggregates == [
        {
            "messageId": sent["id"],
            "chatId": str(world.group),
            "status": "DELIVERED",
            "aggregate": True,
        }
    ]
    with session_scope() as session:
        assert session.get(Receipt, (uuid.UUID(sent["id"]), world.carol)) is None


def test_leaving_when_others_still_wait_tells_the_sender_nothing_about_statuses(
    world: World,
) -> None:
    _add_to_group(world, world.carol)
    alice = world.online(world.alice)
    alice.send("message", {"chatId": str(world.group), "body": "nobody is here"})
    carol = _connected_without_catch_up(world, world.carol)

    carol.send("chat:leave", {"chatId": str(world.group)})

    assert alice.frames("message:status") == []  # bob still has it pending: SENT as before
    assert alice.frames("chat:member")[-1]["data"]["event"] == "left"


def test_when_the_last_admin_leaves_over_the_websocket_the_longest_standing_member_is_promoted(
    world: World,
) -> None:
    from parley.db.models import ChatMember, MemberRole
    from parley.db.session import session_scope

    with session_scope() as session:
        session.execute(
            update(ChatMember)
            .where(ChatMember.chat_id == world.group, ChatMember.user_id == world.alice)
            .values(role=MemberRole.ADMIN.value)
        )
    alice = world.online(world.alice)

    ack = alice.send("chat:leave", {"chatId": str(world.group)})

    assert ack["status"] == "ok"
    with session_scope() as session:
        assert session.get(ChatMember, (world.group, world.bob)).role == MemberRole.ADMIN.value
    [left] = [event for event in _outbox("chat.member.left")]
    assert left == {
        "chatId": str(world.group),
        "userId": str(world.alice),
        "by": str(world.alice),
        "reason": "left",
    }


def test_a_direct_chat_cannot_be_left(world: World) -> None:
    from parley.db.models import Chat, ChatMember, ChatType
    from parley.db.session import session_scope

    direct = uuid.uuid4()
    with session_scope() as session:
        session.add(Chat(id=direct, type=ChatType.DIRECT.value, direct_key="a:b"))
        session.flush()
        session.add_all(ChatMember(chat_id=direct, user_id=u) for u in (world.alice, world.bob))
    alice = world.online(world.alice)

    ack = alice.send("chat:leave", {"chatId": str(direct)})

    assert ack["code"] == "forbidden"
    assert "chat.member.left" not in outbox_types()


def _outbox(event_type: str) -> list[dict]:
    from sqlalchemy import select

    from parley.db.models import OutboxEvent
    from parley.db.session import session_scope

    with session_scope() as session:
        rows = session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == event_type).order_by(OutboxEvent.id)
        )
        return [row.payload["data"] for row in rows]


def test_typing_reaches_the_other_members_at_most_once_per_interval(world: World) -> None:
    alice = world.online(world.alice)
    bob = world.online(world.bob)

    first = alice.send("typing", {"chatId": str(world.group)})
    second = alice.send("typing", {"chatId": str(world.group)})

    assert first["message"]["sent"] is True and second["message"]["sent"] is False
    assert bob.frames("typing") == [
        {
            "type": "typing",
            "data": {"chatId": str(world.group), "userId": str(world.alice), "isTyping": True},
        }
    ]
    assert alice.frames("typing") == []


def test_a_stop_right_after_a_start_always_goes_out_and_reopens_the_interval(
    world: World,
) -> None:
    alice = world.online(world.alice)
    bob = world.online(world.bob)
    chat = str(world.group)

    start = alice.send("typing", {"chatId": chat})
    stop = alice.send("typing", {"chatId": chat, "isTyping": False})
    stop_again = alice.send("typing", {"chatId": chat, "isTyping": False})
    restart = alice.send("typing", {"chatId": chat})
    repeat = alice.send("typing", {"chatId": chat})

    sent = [ack["message"]["sent"] for ack in (start, stop, stop_again, restart, repeat)]
    assert sent == [True, True, True, True, False]
    assert [frame["data"]["isTyping"] for frame in bob.frames("typing")] == [
        True,
        False,
        False,
        True,
    ]


def test_users_list_answers_the_users_sharing_a_chat_with_presence(world: World) -> None:
    alice = world.online(world.alice)
    world.online(world.bob)

    ack = alice.send("users:list")

    assert [user["username"] for user in ack["users"]] == ["bob"]
    assert ack["users"][0]["online"] is True
    assert "message" not in ack


def test_an_unknown_action_is_answered_unknown_action(world: World) -> None:
    alice = world.online(world.alice)

    ack = alice.send("dance", {"how": "well"}, request_id="d1")

    assert ack["status"] == "error" and ack["code"] == "unknown_action"
    assert ack["requestId"] == "d1"
    assert "dance" in ack["message"]
