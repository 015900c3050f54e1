"""REST membership changes reach the members' live WebSocket connections as `chat:member`."""

from __future__ import annotations

from sqlalchemy import update

from parley.db import session_scope
from parley.db.models import Receipt
from tests.rest.conftest import CONNECTIONS_URL, Account, LiveConnections, RestApi, seed_messages
from tests.rest.test_chats import create_group, open_direct


def test_creating_a_group_tells_each_member_they_joined(
    api: RestApi, live: LiveConnections, alice: Account, bob: Account, carol: Account
) -> None:
    alice_tab, bob_tab, carol_tab = live.open(alice.id), live.open(bob.id), live.open(carol.id)

    chat = create_group(api, alice, bob)

    assert live.frames(bob_tab, "chat:member") == [
        {"chatId": chat["id"], "userId": str(bob.id), "event": "joined", "by": str(alice.id)}
    ]
    assert live.frames(alice_tab, "chat:member") == [
        {"chatId": chat["id"], "userId": str(alice.id), "event": "joined", "by": str(alice.id)}
    ]
    assert live.frames(carol_tab) == []
    assert live.recorder.endpoints == {CONNECTIONS_URL}


def test_opening_a_direct_chat_tells_the_other_once(
    api: RestApi, live: LiveConnections, alice: Account, bob: Account
) -> None:
    bob_tab = live.open(bob.id)

    _, chat = open_direct(api, alice, bob)
    again, _ = open_direct(api, alice, bob)

    assert again == 200
    assert live.frames(bob_tab, "chat:member") == [
        {"chatId": chat["id"], "userId": str(bob.id), "event": "joined", "by": str(alice.id)}
    ]


def test_adding_members_tells_every_member_about_each_newcomer(
    api: RestApi, live: LiveConnections, alice: Account, bob: Account, carol: Account
) -> None:
    chat = create_group(api, alice, bob)
    bob_tab, carol_tab = live.open(bob.id), live.open(carol.id)

    response = api.post(
        f"/chats/{chat['id']}/members", token=alice.access_token, body={"userIds": [str(carol.id)]}
    )

    assert response.status == 200
    joined = {"chatId": chat["id"], "userId": str(carol.id), "event": "joined", "by": str(alice.id)}
    assert live.frames(bob_tab, "chat:member") == [joined]
    assert live.frames(carol_tab, "chat:member") == [joined]


def test_removing_a_member_tells_everyone_who_was_in_the_chat(
    api: RestApi, live: LiveConnections, alice: Account, bob: Account, carol: Account
) -> None:
    chat = create_group(api, alice, bob, carol)
    bob_tab, carol_tab = live.open(bob.id), live.open(carol.id)

    response = api.delete(f"/chats/{chat['id']}/members/{bob.id}", token=alice.access_token)

    assert response.status == 204
    left = {"chatId": chat["id"], "userId": str(bob.id), "event": "left", "by": str(alice.id)}
    assert live.frames(bob_tab, "chat:member") == [left]
    assert live.frames(carol_tab, "chat:member") == [left]


def test_removing_the_last_member_a_message_waited_for_tells_its_sender_the_new_aggregate(
    api: RestApi, live: LiveConnections, alice: Account, bob: Account, carol: Account
) -> None:
    chat = create_group(api, alice, bob, carol)
    [message_id] = seed_messages(chat["id"], alice.id, [bob.id, carol.id], 1)
    with session_scope() as session:
        session.execute(
            update(Receipt).where(Receipt.user_id == bob.id).values(status=2)  # DELIVERED
        )
    alice_tab = live.open(alice.id)

    response = api.delete(f"/chats/{chat['id']}/members/{carol.id}", token=alice.access_token)

    assert response.status == 204
    assert live.frames(alice_tab, "message:status") == [
        {
            "messageId": str(message_id),
            "chatId": chat["id"],
            "status": "DELIVERED",
            "aggregate": True,
        }
    ]
    with session_scope() as session:
        assert session.get(Receipt, (message_id, carol.id)) is None


def test_without_a_connections_url_rest_pushes_nothing(
    api: RestApi,
    live_without_url: LiveConnections,
    alice: Account,
    bob: Account,
    capsys,
) -> None:
    bob_tab = live_without_url.open(bob.id)

    chat = create_group(api, alice, bob)
    removed = api.delete(f"/chats/{chat['id']}/members/{bob.id}", token=alice.access_token)

    assert removed.status == 204
    assert live_without_url.frames(bob_tab) == []
    assert live_without_url.recorder.endpoints == set()
    logged = capsys.readouterr().out
    assert '"level":"WARNING"' not in logged and '"level":"ERROR"' not in logged
