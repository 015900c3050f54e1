"""Bad and hostile input: the right code in the ack, no crash, nothing stored."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select

from tests.realtime.conftest import Client, World, outbox_types


def _stored_messages() -> int:
    from parley.db.models import Message
    from parley.db.session import session_scope

    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Message))


@pytest.fixture
def carols_message(world: World) -> dict:
    carol = world.online(world.carol)
    return carol.send("message", {"chatId": str(world.private), "body": "secret"})["message"]


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("message", lambda w, m: {"chatId": str(w.private), "body": "let me in"}),
        ("message:read", lambda w, m: {"chatId": str(w.private), "messageId": m["id"]}),
        ("message:delivered", lambda w, m: {"messageId": m["id"]}),
        ("message:pin", lambda w, m: {"messageId": m["id"]}),
        ("message:unpin", lambda w, m: {"messageId": m["id"]}),
        ("message:edit", lambda w, m: {"messageId": m["id"], "body": "mine"}),
        ("message:delete", lambda w, m: {"messageId": m["id"]}),
        ("message:forward", lambda w, m: {"messageId": m["id"], "toChatId": str(w.group)}),
        ("chat:join", lambda w, m: {"chatId": str(w.private)}),
        ("chat:leave", lambda w, m: {"chatId": str(w.private)}),
        ("typing", lambda w, m: {"chatId": str(w.private)}),
    ],
)
def test_every_action_on_a_chat_the_caller_is_not_in_is_refused(
    world: World, carols_message: dict, action: str, data
) -> None:
    alice = world.online(world.alice)
    events_before = outbox_types()

    ack = alice.send(action, data(world, carols_message))

    assert ack["status"] == "error"
    assert ack["code"] in {"forbidden", "not_found"}
    assert _stored_messages() == 1
    assert outbox_types() == events_before
    assert world.recorder.frames(alice.connection_id, "message") == []


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("message:read", lambda w, m: {"chatId": str(w.group), "messageId": m}),
        ("message:delivered", lambda w, m: {"messageId": m}),
        ("message:pin", lambda w, m: {"messageId": m}),
        ("message:unpin", lambda w, m: {"messageId": m}),
        ("message:edit", lambda w, m: {"messageId": m, "body": "mine"}),
        ("message:delete", lambda w, m: {"messageId": m}),
        ("message:forward", lambda w, m: {"messageId": m, "toChatId": str(w.group)}),
    ],
)
def test_a_message_in_someone_elses_chat_answers_exactly_like_a_missing_one(
    world: World, carols_message: dict, action: str, data
) -> None:
    alice = world.online(world.alice)

    hidden = alice.send(action, data(world, carols_message["id"]), request_id="probe")
    missing = alice.send(action, data(world, str(uuid.uuid4())), request_id="probe")

    assert hidden == missing
    assert hidden["code"] == "not_found" and hidden["message"] == "message not found"


def test_a_body_that_is_not_json_is_a_bad_request(world: World) -> None:
    alice = world.online(world.alice)

    ack = alice.send_raw("default", "$default", "{this is not json")

    assert ack["status"] == "error" and ack["code"] == "bad_request"
    assert ack["requestId"] is None


@pytest.mark.parametrize(
    "body",
    [
        json.dumps([1, 2, 3]),
        json.dumps({"requestId": "x"}),
        json.dumps({"action": 7, "requestId": "x"}),
    ],
)
def test_a_frame_that_is_not_an_action_object_is_a_bad_request(world: World, body: str) -> None:
    alice = world.online(world.alice)

    ack = alice.send_raw("default", "$default", body)

    assert ack["code"] == "bad_request"


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"action": 7, "requestId": "r1"}),
        json.dumps({"requestId": "r1", "data": {}}),
        json.dumps({"action": "message", "requestId": "r1", "data": "not an object"}),
    ],
)
def test_an_invalid_envelope_is_answered_with_its_request_id(world: World, body: str) -> None:
    alice = world.online(world.alice)

    ack = alice.send_raw("default", "$default", body)

    assert ack["code"] == "bad_request"
    assert ack["requestId"] == "r1"


@pytest.mark.parametrize("request_id", [7, ["r1"], "r" * 129])
def test_an_unusable_request_id_is_answered_with_none(world: World, request_id) -> None:
    alice = world.online(world.alice)

    ack = alice.send_raw(
        "default", "$default", json.dumps({"action": "ping", "requestId": request_id})
    )

    assert ack["code"] == "bad_request"
    assert ack["requestId"] is None


@pytest.mark.parametrize(
    "data",
    [
        {"chatId": "not-a-uuid", "body": "x"},
        {"chatId": None, "body": "x"},
        {"body": "x"},
        {"chatId": "{group}", "body": 42},
        {"chatId": "{group}", "body": ""},
        {"chatId": "{group}", "body": "x", "clientMessageId": "c" * 65},
        {"chatId": "{group}", "body": "x", "replyToId": "nope"},
        {"chatId": "{group}", "body": "x", "unexpected": True},
    ],
)
def test_wrong_types_and_shapes_are_bad_requests_and_store_nothing(
    world: World, data: dict
) -> None:
    alice = world.online(world.alice)
    data = {key: (str(world.group) if value == "{group}" else value) for key, value in data.items()}

    ack = alice.send("message", data)

    assert ack["code"] in {"bad_request", "too_large"}
    assert ack["message"]
    assert _stored_messages() == 0


def test_a_body_of_4001_characters_is_too_large(world: World) -> None:
    alice = world.online(world.alice)

    too_long = alice.send("message", {"chatId": str(world.group), "body": "x" * 4001})
    just_right = alice.send("message", {"chatId": str(world.group), "body": "x" * 4000})

    assert too_long["code"] == "too_large"
    assert just_right["status"] == "ok"
    assert _stored_messages() == 1


def test_a_flood_of_messages_is_rate_limited_with_retry_after_and_one_event(
    world: World,
) -> None:
    alice = world.online(world.alice)

    acks = [
        alice.send("message", {"chatId": str(world.group), "body": f"spam {n}"}) for n in range(25)
    ]

    ok = [ack for ack in acks if ack["status"] == "ok"]
    limited = [ack for ack in acks if ack["status"] == "error"]
    assert len(ok) == 20
    assert {ack["code"] for ack in limited} == {"rate_limited"}
    assert all(1 <= ack["retryAfter"] <= 10 for ack in limited)
    assert _stored_messages() == 20
    assert outbox_types().count("ratelimit.exceeded") == 1
    # Other action classes have their own budget.
    assert alice.send("ping")["status"] == "ok"


def test_ping_is_answered_when_the_action_budget_is_spent(world: World) -> None:
    from parley.config import get_settings

    alice = world.online(world.alice)
    budget = get_settings().rate_limit_actions
    typing = [
        alice.send("typing", {"chatId": str(world.group)}).get("code") for _ in range(budget + 1)
    ]

    pong = alice.send("ping")

    assert typing[-1] == "rate_limited"
    assert pong["status"] == "ok" and pong["message"] == "pong"


def test_an_unexpected_failure_is_an_internal_ack_not_a_crash(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import parley.chat.messages

    alice = world.online(world.alice)

    def broken(*_args, **_kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(parley.chat.messages, "chat_members", broken)
    ack = alice.send("message", {"chatId": str(world.group), "body": "x"}, request_id="boom")

    assert ack == {
        "type": "ack",
        "requestId": "boom",
        "status": "error",
        "code": "internal",
        "message": "internal error",
    }


def test_a_frame_from_a_connection_whose_user_was_never_connected_is_unauthorized(
    world: World,
) -> None:
    ghost = Client(uuid.uuid4(), "R2hvc3QxMjM0NTY=", world.recorder)

    ack = ghost.send("message", {"chatId": str(world.group), "body": "boo"})

    assert ack["code"] == "unauthorized"
    assert _stored_messages() == 0
    # Closed, so that a real client reconnects and registers again.
    assert world.recorder.closed == [ghost.connection_id]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("body", "before\x00after"),
        ("body", "lone \ud800 surrogate"),
        ("clientMessageId", "id\x00"),
    ],
)
def test_text_postgresql_cannot_store_is_a_bad_request(
    world: World, field: str, value: str
) -> None:
    alice = world.online(world.alice)
    data = {"chatId": str(world.group), "body": "hello", field: value}

    ack = alice.send("message", data)

    assert ack["status"] == "error"
    assert ack["code"] == "bad_request"
    assert ack["field"] == field
    assert _stored_messages() == 0


def test_an_edit_with_a_nul_character_is_a_bad_request(world: World) -> None:
    alice = world.online(world.alice)
    sent = alice.send("message", {"chatId": str(world.group), "body": "hello"})["message"]

    ack = alice.send("message:edit", {"messageId": sent["id"], "body": "bye\x00"})

    assert ack["code"] == "bad_request"
    assert ack["field"] == "body"


def test_a_frame_nested_too_deep_to_parse_is_a_bad_request(world: World) -> None:
    alice = world.online(world.alice)

    ack = alice.send_raw("default", "$default", "[" * 10_000)

    assert ack["status"] == "error"
    assert ack["code"] == "bad_request"
    # and the connection goes on
    assert alice.send("ping")["status"] == "ok"


def test_values_a_database_error_quotes_never_reach_the_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from parley.db.session import session_scope
    from parley.observability import logger

    body = " ".join(["a", "private", "message", "body"])  # not in any source line shown
    # PostgreSQL's own message quotes the value it refused.
    with pytest.raises(DBAPIError) as failed, session_scope() as session:
        session.execute(text("SELECT CAST(:body AS integer)"), {"body": body})
    assert "SQL parameters hidden" in str(failed.value)

    try:
        raise failed.value
    except DBAPIError:
        logger.exception("action failed")

    logged = caplog.text
    assert "action failed" in logged
    assert "22P02" in logged  # the SQLSTATE stays
    assert body not in logged
