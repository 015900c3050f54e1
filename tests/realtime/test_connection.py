"""$connect, $disconnect, presence and catch-up."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from tests.realtime.conftest import (
    World,
    connect_event,
    disconnect_event,
    invoke,
    new_connection_id,
    outbox_types,
)


def test_connect_with_a_valid_token_registers_the_connection_and_marks_the_user_online(
    world: World,
) -> None:
    from parley.stores import connections, presence

    client = world.connect(world.alice)

    stored = connections.get(client.connection_id)
    assert stored is not None and stored.user_id == world.alice
    assert stored.source_ip == "203.0.113.10"
    ttl = connections.ttl(client.connection_id)
    assert 2 * 3600 < ttl <= 2 * 3600 + 600
    assert presence.of_users([world.alice])[world.alice].online
    assert "user.online" in outbox_types()


def test_connect_tells_users_who_share_a_chat_and_nobody_else(world: World) -> None:
    bob = world.online(world.bob)
    carol = world.online(world.carol)

    world.connect(world.alice)

    updates = bob.frames("users:update")
    assert updates[-1]["data"] == {"userId": str(world.alice), "online": True, "lastSeenAt": None}
    assert carol.frames("users:update") == []


@pytest.mark.parametrize(
    "token_kind", ["missing", "forged", "expired", "refresh token instead of access"]
)
def test_connect_without_a_valid_access_token_is_refused_with_401(
    world: World, token_kind: str
) -> None:
    from parley.auth.tokens import issue_token
    from parley.stores import connections

    token = {
        "missing": None,
        "forged": world.token(world.alice)[:-4] + "abcd",
        "expired": issue_token(world.alice, now=datetime.now(UTC) - timedelta(hours=1))[0],
        "refresh token instead of access": issue_token(world.alice, "refresh")[0],
    }[token_kind]
    connection_id = new_connection_id()

    response = invoke("connect", connect_event(connection_id, token=token))

    assert response["statusCode"] == 401
    assert connections.get(connection_id) is None


def test_connect_accepts_the_token_as_a_subprotocol_and_selects_the_named_one(
    world: World,
) -> None:
    from parley.stores import connections

    connection_id = new_connection_id()
    token = world.token(world.alice)

    response = invoke(
        "connect",
        connect_event(connection_id, headers={"Sec-WebSocket-Protocol": f"parley, {token}"}),
    )

    assert response["statusCode"] == 200
    assert response["headers"] == {"Sec-WebSocket-Protocol": "parley"}
    assert connections.get(connection_id).user_id == world.alice


def test_connect_refuses_a_token_offered_as_the_only_subprotocol_with_401(world: World) -> None:
    from parley.stores import connections

    connection_id = new_connection_id()
    token = world.token(world.alice)

    response = invoke(
        "connect", connect_event(connection_id, headers={"Sec-WebSocket-Protocol": token})
    )

    assert response["statusCode"] == 401
    assert token not in str(response)
    assert connections.get(connection_id) is None


def test_connect_with_the_token_in_the_query_never_echoes_an_offered_token(world: World) -> None:
    token = world.token(world.alice)

    named = invoke(
        "connect",
        connect_event(
            new_connection_id(), token=token, headers={"Sec-WebSocket-Protocol": f"{token}, parley"}
        ),
    )
    token_only = invoke(
        "connect",
        connect_event(new_connection_id(), token=token, headers={"Sec-WebSocket-Protocol": token}),
    )

    assert named["statusCode"] == 200
    assert named["headers"] == {"Sec-WebSocket-Protocol": "parley"}
    assert token_only["statusCode"] == 200
    assert token not in str(token_only)


def test_connect_from_an_origin_outside_the_allowlist_is_refused_with_403(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from parley.config import get_settings

    monkeypatch.setenv("ALLOWED_ORIGINS", '["https://parley.example.org"]')
    get_settings.cache_clear()
    try:
        refused = invoke(
            "connect", connect_event(new_connection_id(), token=world.token(world.alice))
        )
        allowed = invoke(
            "connect",
            connect_event(
                new_connection_id(),
                token=world.token(world.alice),
                headers={"Origin": "https://parley.example.org"},
            ),
        )
    finally:
        monkeypatch.delenv("ALLOWED_ORIGINS")
        get_settings.cache_clear()

    assert refused["statusCode"] == 403
    assert allowed["statusCode"] == 200


def test_the_token_never_appears_in_the_logs(
    world: World, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    token = world.token(world.alice)
    caplog.set_level(logging.DEBUG)

    invoke("connect", connect_event(new_connection_id(), token=token))
    invoke("connect", connect_event(new_connection_id(), token=token[:-3] + "xyz"))

    captured = capsys.readouterr()
    assert token not in captured.out + captured.err + caplog.text
    assert token[:-3] not in captured.out + captured.err + caplog.text


def test_disconnect_of_the_last_connection_marks_the_user_offline_with_last_seen_at(
    world: World,
) -> None:
    from parley.db.models import User
    from parley.db.session import session_scope
    from parley.stores import connections, presence

    bob = world.online(world.bob)
    first = world.connect(world.alice)
    second = world.connect(world.alice)

    first.disconnect()
    assert presence.of_users([world.alice])[world.alice].online

    second.disconnect()
    seen = presence.of_users([world.alice])[world.alice]
    assert not seen.online and seen.last_seen_at is not None
    assert connections.of_users([world.alice]) == {}
    with session_scope() as session:
        assert session.get(User, world.alice).last_seen_at == seen.last_seen_at
    update = bob.frames("users:update")[-1]["data"]
    assert update == {
        "userId": str(world.alice),
        "online": False,
        "lastSeenAt": seen.last_seen_at.isoformat(),
    }
    assert outbox_types().count("user.offline") == 1


def test_disconnect_is_idempotent(world: World) -> None:
    client = world.connect(world.alice)

    first = client.disconnect()
    again = client.disconnect()
    unknown = invoke("disconnect", disconnect_event(new_connection_id()))

    assert first == again == unknown == {"statusCode": 200}
    assert outbox_types().count("user.offline") == 1


def test_a_frame_from_an_unregistered_connection_is_refused_as_unauthorized(
    world: World,
) -> None:
    from tests.realtime.conftest import Client

    stranger = Client(world.alice, new_connection_id(), world.recorder)

    ack = stranger.send("ping", request_id="p1")

    assert ack["status"] == "error" and ack["code"] == "unauthorized"
    assert ack["requestId"] == "p1"


def test_ping_refreshes_the_connection_ttl_and_answers_pong(world: World) -> None:
    from parley.stores.client import get_redis

    client = world.connect(world.alice)
    get_redis().expire(f"conn:{client.connection_id}", 60)

    ack = client.send("ping", request_id="p1")

    assert ack == {"type": "ack", "requestId": "p1", "status": "ok", "message": "pong"}
    assert get_redis().ttl(f"conn:{client.connection_id}") > 3600


def test_offline_recipient_gets_queued_messages_on_its_first_frame_and_sender_hears_delivered(
    world: World,
) -> None:
    alice = world.online(world.alice)
    sent = alice.send("message", {"chatId": str(world.group), "body": "while you were away"})
    assert sent["message"]["status"] == "SENT"

    bob = world.connect(world.bob)
    assert bob.frames() == []  # nothing can reach a socket during $connect

    ack = bob.send("ping")

    assert ack["message"] == "pong"
    delivered = bob.frames("message")
    assert [frame["data"]["id"] for frame in delivered] == [sent["message"]["id"]]
    statuses = [frame["data"] for frame in alice.frames("message:status")]
    assert {
        "messageId": sent["message"]["id"],
        "chatId": str(world.group),
        "userId": str(world.bob),
        "status": "DELIVERED",
    } in statuses
    assert {
        "messageId": sent["message"]["id"],
        "chatId": str(world.group),
        "status": "DELIVERED",
        "aggregate": True,
    } in statuses
    # Claimed once: a second frame delivers nothing again.
    bob.send("ping")
    assert len(bob.frames("message")) == 1
    assert outbox_types().count("message.delivered") == 1


def test_a_new_connection_of_an_online_user_leaves_other_connections_alone_when_nothing_queued(
    world: World,
) -> None:
    first = world.online(world.alice)

    world.connect(world.alice)

    assert first.frames("message") == []
    assert first.frames("users:update") == []


def test_a_connection_past_the_per_user_cap_is_refused_with_a_reason(
    world: World, settings_env
) -> None:
    from parley.auth.tokens import issue_token
    from parley.stores import connections

    settings_env(MAX_CONNECTIONS_PER_USER=2)
    first, second = world.connect(world.alice), world.connect(world.alice)

    refused_id = new_connection_id()
    refused = invoke("connect", connect_event(refused_id, token=issue_token(world.alice)[0]))

    assert refused["statusCode"] == 429
    assert "at most 2" in refused["body"]
    assert connections.get(refused_id) is None
    assert connections.count(world.alice) == 2
    # Room again once one closes
    first.disconnect()
    assert (
        invoke("connect", connect_event(new_connection_id(), token=world.token(world.alice)))[
            "statusCode"
        ]
        == 200
    )
    assert second.send("ping")["status"] == "ok"


def test_a_user_whose_connection_stops_pinging_drops_out_of_presence_without_a_disconnect(
    world: World, settings_env
) -> None:
    import time

    from parley.stores import presence

    settings_env(PRESENCE_TTL_SECONDS=1)
    alice = world.online(world.alice)
    assert presence.of_users([world.alice])[world.alice].online
    assert world.alice in presence.online_user_ids()

    time.sleep(1.2)  # no ping, and the $disconnect never comes

    assert not presence.of_users([world.alice])[world.alice].online
    assert world.alice not in presence.online_user_ids()
    # A ping is a sign of life again.
    assert alice.send("ping")["status"] == "ok"
    assert presence.of_users([world.alice])[world.alice].online
