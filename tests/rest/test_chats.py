"""Chats and members: create, list, get, add and remove, with their events."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from parley.db import session_scope
from parley.db.models import Message
from parley.stores import presence
from tests.rest.conftest import (
    Account,
    RestApi,
    outbox_events,
    seed_messages,
    table_counts,
)


def create_group(api: RestApi, owner: Account, *members: Account, title: str = "Team") -> dict:
    response = api.post(
        "/chats",
        token=owner.access_token,
        body={"type": "group", "title": title, "memberIds": [str(m.id) for m in members]},
    )
    assert response.status == 201, response.text
    return response.json


def open_direct(api: RestApi, caller: Account, other: Account) -> tuple[int, dict]:
    response = api.post(
        "/chats", token=caller.access_token, body={"type": "direct", "memberIds": [str(other.id)]}
    )
    return response.status, response.json


def test_opening_a_direct_chat_answers_201_with_both_members(
    api: RestApi, alice: Account, bob: Account
) -> None:
    status, chat = open_direct(api, alice, bob)

    assert status == 201
    assert chat["type"] == "direct"
    assert {member["id"] for member in chat["members"]} == {str(alice.id), str(bob.id)}
    assert chat["unreadCount"] == 0
    assert chat["lastMessage"] is None


def test_opening_the_same_pair_again_returns_the_existing_chat_with_200(
    api: RestApi, alice: Account, bob: Account
) -> None:
    _, first = open_direct(api, alice, bob)

    again_status, again = open_direct(api, alice, bob)
    reverse_status, reverse = open_direct(api, bob, alice)

    assert (again_status, reverse_status) == (200, 200)
    assert again["id"] == reverse["id"] == first["id"]
    assert len(outbox_events("chat.created")) == 1


@pytest.mark.parametrize(
    "member_ids",
    [lambda a, b, c: [a], lambda a, b, c: [b, c], lambda a, b, c: [str(uuid.uuid4())]],
    ids=["self", "two others", "unknown user"],
)
def test_a_direct_chat_needs_exactly_one_other_existing_user(
    api: RestApi, alice: Account, bob: Account, carol: Account, member_ids: Callable
) -> None:
    before = table_counts()
    ids = member_ids(str(alice.id), str(bob.id), str(carol.id))

    response = api.post(
        "/chats", token=alice.access_token, body={"type": "direct", "memberIds": ids}
    )

    assert response.status == 422
    assert response.json["field"] == "memberIds"
    assert table_counts() == before


def test_creating_a_group_makes_the_creator_its_admin(
    api: RestApi, alice: Account, bob: Account, carol: Account
) -> None:
    chat = create_group(api, alice, bob, carol, title="  Launch  ")

    assert chat["type"] == "group"
    assert chat["title"] == "Launch"
    assert chat["createdBy"] == str(alice.id)
    roles = {member["username"]: member["role"] for member in chat["members"]}
    assert roles == {"alice": "admin", "bob": "member", "carol": "member"}


def test_a_group_can_be_public(api: RestApi, alice: Account, bob: Account) -> None:
    response = api.post(
        "/chats",
        token=alice.access_token,
        body={"type": "group", "title": "Open", "memberIds": [str(bob.id)], "isPublic": True},
    )

    assert response.json["isPublic"] is True


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"title": None}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "t" * 129}, "title"),
        ({"memberIds": []}, "memberIds"),
        ({"type": "channel"}, "type"),
    ],
)
def test_an_invalid_group_is_refused_naming_the_field(
    api: RestApi, alice: Account, bob: Account, extra: dict, field: str
) -> None:
    body = {"type": "group", "title": "Team", "memberIds": [str(bob.id)], **extra}

    response = api.post("/chats", token=alice.access_token, body=body)

    assert response.status == 422
    assert response.json["field"] == field
    assert table_counts()["chats"] == 0


def test_a_group_of_only_its_creator_is_refused(api: RestApi, alice: Account) -> None:
    response = api.post(
        "/chats",
        token=alice.access_token,
        body={"type": "group", "title": "Alone", "memberIds": [str(alice.id)]},
    )

    assert response.status == 422
    assert response.json["field"] == "memberIds"


def test_creating_a_chat_writes_chat_created_keyed_by_chat(
    api: RestApi, alice: Account, bob: Account
) -> None:
    chat = create_group(api, alice, bob)

    [event] = outbox_events("chat.created")
    assert event["key"] == chat["id"]
    data = event["payload"]["data"]
    assert data["id"] == chat["id"]
    assert data["type"] == "group"
    assert data["title"] == "Team"
    assert data["createdBy"] == str(alice.id)
    assert sorted(data["memberIds"]) == sorted([str(alice.id), str(bob.id)])


def test_chats_lists_the_callers_chats_newest_activity_first(
    api: RestApi, alice: Account, bob: Account, carol: Account
) -> None:
    quiet = create_group(api, alice, bob, title="Quiet")
    _, direct = open_direct(api, alice, carol)
    busy = create_group(api, alice, bob, carol, title="Busy")
    create_group(api, bob, carol, title="Not Alice's")
    seed_messages(quiet["id"], bob.id, [alice.id], 1)

    chats = api.get("/chats", token=alice.access_token).json["chats"]

    assert [chat["id"] for chat in chats] == [quiet["id"], busy["id"], direct["id"]]


def test_chats_carry_the_unread_count_and_last_message(
    api: RestApi, alice: Account, bob: Account
) -> None:
    _, chat = open_direct(api, alice, bob)
    seed_messages(chat["id"], bob.id, [alice.id], 2, receipt_status=3)
    seed_messages(chat["id"], bob.id, [alice.id], 3, receipt_status=2)
    presence.mark_online(bob.id)

    [listed] = api.get("/chats", token=alice.access_token).json["chats"]
    [for_bob] = api.get("/chats", token=bob.access_token).json["chats"]

    assert listed["unreadCount"] == 3
    assert listed["lastMessage"]["seq"] == 5
    assert listed["lastMessage"]["body"] == "message 5"
    assert listed["lastMessage"]["status"] == "DELIVERED"
    assert listed["lastSeq"] == 5
    assert {m["username"]: m["online"] for m in listed["members"]} == {
        "alice": False,
        "bob": True,
    }
    assert for_bob["unreadCount"] == 0


def test_get_chat_returns_the_same_shape_as_the_list(
    api: RestApi, alice: Account, bob: Account
) -> None:
    chat = create_group(api, alice, bob)
    seed_messages(chat["id"], alice.id, [bob.id], 1)

    one = api.get(f"/chats/{chat['id']}", token=bob.access_token)

    assert one.status == 200
    assert one.json == api.get("/chats", token=bob.access_token).json["chats"][0]
    assert one.json["unreadCount"] == 1


def test_an_admin_adds_members_and_each_gets_a_joined_event(
    api: RestApi, alice: Account, bob: Account, carol: Account, register
) -> None:
    dave = register("dave")
    chat = create_group(api, alice, bob)

    response = api.post(
        f"/chats/{chat['id']}/members",
        token=alice.access_token,
        body={"userIds": [str(carol.id), str(dave.id), str(bob.id)]},
    )

    assert response.status == 200
    assert {m["username"] for m in response.json["members"]} == {"alice", "bob", "carol", "dave"}
    events = outbox_events("chat.member.joined")
    assert {event["payload"]["data"]["userId"] for event in events} == {
        str(carol.id),
        str(dave.id),
    }
    assert {event["key"] for event in events} == {chat["id"]}
    assert all(event["payload"]["data"]["by"] == str(alice.id) for event in events)
    assert api.get(f"/chats/{chat['id']}/messages", token=carol.access_token).status == 200


def test_a_member_who_is_not_admin_cannot_add_members(
    api: RestApi, alice: Account, bob: Account, carol: Account
) -> None:
    chat = create_group(api, alice, bob)

    response = api.post(
        f"/chats/{chat['id']}/members", token=bob.access_token, body={"userIds": [str(carol.id)]}
    )

    assert response.status == 403
    assert response.json["code"] == "forbidden"
    assert outbox_events("chat.member.joined") == []


def test_members_of_a_direct_chat_cannot_change(
    api: RestApi, alice: Account, bob: Account, carol: Account
) -> None:
    _, chat = open_direct(api, alice, bob)

    added = api.post(
        f"/chats/{chat['id']}/members", token=alice.access_token, body={"userIds": [str(carol.id)]}
    )
    removed = api.delete(f"/chats/{chat['id']}/members/{bob.id}", token=alice.access_token)

    assert (added.status, removed.status) == (403, 403)


def test_adding_unknown_users_is_refused(api: RestApi, alice: Account, bob: Account) -> None:
    chat = create_group(api, alice, bob)

    response = api.post(
        f"/chats/{chat['id']}/members",
        token=alice.access_token,
        body={"userIds": [str(uuid.uuid4())]},
    )

    assert response.status == 422
    assert response.json["field"] == "userIds"


def test_an_admin_removes_a_member_with_a_left_event(
    api: RestApi, alice: Account, bob: Account, carol: Account
) -> None:
    chat = create_group(api, alice, bob, carol)

    response = api.delete(f"/chats/{chat['id']}/members/{bob.id}", token=alice.access_token)

    assert response.status == 204
    assert api.get(f"/chats/{chat['id']}", token=bob.access_token).status == 404
    [event] = outbox_events("chat.member.left")
    assert event["key"] == chat["id"]
    assert event["payload"]["data"] == {
        "chatId": chat["id"],
        "userId": str(bob.id),
        "by": str(alice.id),
        "reason": "removed",
    }


def test_a_member_may_leave_but_not_remove_others(
    api: RestApi, alice: Account, bob: Account, carol: Account
) -> None:
    chat = create_group(api, alice, bob, carol)

    refused = api.delete(f"/chats/{chat['id']}/members/{carol.id}", token=bob.access_token)
    left = api.delete(f"/chats/{chat['id']}/members/{bob.id}", token=bob.access_token)

    assert refused.status == 403
    assert left.status == 204
    [event] = outbox_events("chat.member.left")
    assert event["payload"]["data"]["reason"] == "left"


def test_when_the_last_admin_leaves_the_longest_standing_member_becomes_admin(
    api: RestApi, alice: Account, bob: Account, carol: Account
) -> None:
    chat = create_group(api, alice, bob)
    api.post(
        f"/chats/{chat['id']}/members", token=alice.access_token, body={"userIds": [str(carol.id)]}
    )

    api.delete(f"/chats/{chat['id']}/members/{alice.id}", token=alice.access_token)

    members = api.get(f"/chats/{chat['id']}", token=bob.access_token).json["members"]
    assert {m["username"]: m["role"] for m in members} == {"bob": "admin", "carol": "member"}


def test_removing_someone_who_is_not_a_member_is_404(
    api: RestApi, alice: Account, bob: Account, carol: Account
) -> None:
    chat = create_group(api, alice, bob)

    response = api.delete(f"/chats/{chat['id']}/members/{carol.id}", token=alice.access_token)

    assert response.status == 404


def test_a_deleted_last_message_shows_without_its_body(
    api: RestApi, alice: Account, bob: Account
) -> None:
    from datetime import UTC, datetime

    _, chat = open_direct(api, alice, bob)
    [message_id] = seed_messages(chat["id"], bob.id, [alice.id], 1)
    with session_scope() as session:
        message = session.get(Message, message_id)
        assert message is not None
        message.deleted_at = datetime.now(UTC)

    [listed] = api.get("/chats", token=alice.access_token).json["chats"]

    assert listed["lastMessage"]["body"] == ""
    assert listed["lastMessage"]["deletedAt"] is not None
