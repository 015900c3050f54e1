"""History pages and pins: GET /chats/{id}/messages and /pins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from parley.db import session_scope
from parley.db.models import Message, Receipt
from tests.rest.conftest import Account, RestApi, seed_messages


@pytest.fixture
def group(api: RestApi, alice: Account, bob: Account, carol: Account) -> str:
    response = api.post(
        "/chats",
        token=alice.access_token,
        body={"type": "group", "title": "History", "memberIds": [str(bob.id), str(carol.id)]},
    )
    return response.json["id"]


def test_history_is_newest_first_with_a_default_page_of_50(
    api: RestApi, alice: Account, bob: Account, carol: Account, group: str
) -> None:
    seed_messages(group, alice.id, [bob.id, carol.id], 120)

    page = api.get(f"/chats/{group}/messages", token=bob.access_token).json

    assert [message["seq"] for message in page["messages"]] == list(range(120, 70, -1))
    assert page["nextBefore"] == 71


def test_following_next_before_walks_back_to_the_start(
    api: RestApi, alice: Account, bob: Account, carol: Account, group: str
) -> None:
    seed_messages(group, alice.id, [bob.id, carol.id], 25)
    seen, before = [], None

    while True:
        query = {"limit": 10, **({"before": before} if before else {})}
        page = api.get(f"/chats/{group}/messages", token=bob.access_token, query=query).json
        seen += [message["seq"] for message in page["messages"]]
        before = page["nextBefore"]
        if before is None:
            break

    assert seen == list(range(25, 0, -1))


def test_a_page_ending_exactly_at_the_start_has_no_next_before(
    api: RestApi, alice: Account, bob: Account, carol: Account, group: str
) -> None:
    seed_messages(group, alice.id, [bob.id, carol.id], 10)

    page = api.get(f"/chats/{group}/messages", token=bob.access_token, query={"limit": 10}).json

    assert len(page["messages"]) == 10
    assert page["nextBefore"] is None


def test_an_empty_chat_has_an_empty_history(api: RestApi, alice: Account, group: str) -> None:
    page = api.get(f"/chats/{group}/messages", token=alice.access_token).json

    assert page == {"messages": [], "nextBefore": None}


@pytest.mark.parametrize("limit", [0, 101, -1])
def test_limit_outside_1_to_100_is_refused(
    api: RestApi, alice: Account, group: str, limit: int
) -> None:
    response = api.get(f"/chats/{group}/messages", token=alice.access_token, query={"limit": limit})

    assert response.status == 422
    assert response.json["field"] == "limit"


def test_each_message_shows_the_least_advanced_status_over_its_recipients(
    api: RestApi, alice: Account, bob: Account, carol: Account, group: str
) -> None:
    [first, second] = seed_messages(group, alice.id, [bob.id, carol.id], 2)
    with session_scope() as session:
        session.execute(update(Receipt).values(status=3).where(Receipt.message_id == first))
        session.execute(
            update(Receipt)
            .values(status=3)
            .where(Receipt.message_id == second, Receipt.user_id == bob.id)
        )
        session.execute(
            update(Receipt)
            .values(status=2)
            .where(Receipt.message_id == second, Receipt.user_id == carol.id)
        )

    messages = api.get(f"/chats/{group}/messages", token=alice.access_token).json["messages"]

    assert [(m["seq"], m["status"]) for m in messages] == [(2, "DELIVERED"), (1, "READ")]


def test_a_deleted_message_keeps_its_place_without_its_body(
    api: RestApi, alice: Account, bob: Account, carol: Account, group: str
) -> None:
    [_, deleted, _] = seed_messages(group, alice.id, [bob.id, carol.id], 3)
    with session_scope() as session:
        session.execute(
            update(Message).values(deleted_at=datetime.now(UTC)).where(Message.id == deleted)
        )

    messages = api.get(f"/chats/{group}/messages", token=bob.access_token).json["messages"]

    assert [m["body"] for m in messages] == ["message 3", "", "message 1"]
    assert messages[1]["deletedAt"] is not None
    assert messages[0]["deletedAt"] is None


def test_messages_carry_every_wire_field(
    api: RestApi, alice: Account, bob: Account, carol: Account, group: str
) -> None:
    seed_messages(group, alice.id, [bob.id, carol.id], 1)

    [message] = api.get(f"/chats/{group}/messages", token=bob.access_token).json["messages"]

    assert set(message) >= {
        "id", "chatId", "seq", "senderId", "body", "clientMessageId", "createdAt", "status",
        "isPinned", "pinnedAt", "pinnedBy", "isForwarded", "forwardedFromId",
        "originalSenderId", "editedAt", "deletedAt",
    }  # fmt: skip
    assert message["senderId"] == str(alice.id)
    assert message["chatId"] == group


def test_pins_lists_pinned_messages_most_recently_pinned_first(
    api: RestApi, alice: Account, bob: Account, carol: Account, group: str
) -> None:
    ids = seed_messages(group, alice.id, [bob.id, carol.id], 4)
    now = datetime.now(UTC)
    with session_scope() as session:
        for message_id, pinned_at in [(ids[0], now), (ids[2], now - timedelta(minutes=1))]:
            session.execute(
                update(Message)
                .values(is_pinned=True, pinned_at=pinned_at, pinned_by=bob.id)
                .where(Message.id == message_id)
            )

    response = api.get(f"/chats/{group}/pins", token=carol.access_token)

    assert response.status == 200
    assert [m["seq"] for m in response.json["messages"]] == [1, 3]
    assert all(m["isPinned"] and m["pinnedBy"] == str(bob.id) for m in response.json["messages"])
