"""Registration, sign-in, refresh-token rotation and sign-out through the rest handler."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from parley.db import session_scope
from parley.db.models import RefreshToken, User
from tests.rest.conftest import Account, RestApi, outbox_events, table_counts
from tests.support.tokens import spent_long_ago


def test_register_answers_201_with_the_user_and_a_token_pair(api: RestApi) -> None:
    response = api.post(
        "/auth/register",
        body={"username": "Ada.Lovelace", "password": "analytical engine", "displayName": "Ada"},
    )

    assert response.status == 201
    body = response.json
    assert set(body) == {"user", "accessToken", "refreshToken"}
    assert body["user"]["username"] == "ada.lovelace"
    assert body["user"]["displayName"] == "Ada"
    assert body["user"]["online"] is False
    me = api.get("/users/me", token=body["accessToken"])
    assert me.json["id"] == body["user"]["id"]


def test_register_stores_an_argon2id_hash_never_the_password(alice: Account) -> None:
    with session_scope() as session:
        stored = session.get(User, alice.id)
        assert stored is not None
        assert stored.password_hash.startswith("$argon2id$")
        assert alice.password not in stored.password_hash


def test_register_writes_a_user_registered_event_keyed_by_user(alice: Account) -> None:
    [event] = outbox_events("user.registered")

    assert event["key"] == str(alice.id)
    assert event["payload"]["type"] == "user.registered"
    assert event["payload"]["data"]["userId"] == str(alice.id)
    assert event["payload"]["data"]["username"] == "alice"
    assert event["payload"]["data"]["displayName"] == "Alice"


def test_a_taken_username_is_refused_with_409_whatever_its_case(
    api: RestApi, alice: Account
) -> None:
    before = table_counts()

    response = api.post(
        "/auth/register", body={"username": "ALICE", "password": "another password"}
    )

    assert response.status == 409
    assert response.json["code"] == "conflict"
    assert table_counts() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ab", "password": "long enough"}, "username"),
        ({"username": "x" * 33, "password": "long enough"}, "username"),
        ({"username": "has space", "password": "long enough"}, "username"),
        ({"username": "émile", "password": "long enough"}, "username"),
        ({"username": "valid", "password": "short"}, "password"),
        ({"username": "valid", "password": "p" * 129}, "password"),
        (
            {"username": "valid", "password": "long enough", "displayName": "a\u0000b"},
            "displayName",
        ),
        ({"password": "long enough"}, "username"),
    ],
)
def test_invalid_registration_is_refused_with_422_naming_the_field(
    api: RestApi, body: dict, field: str
) -> None:
    response = api.post("/auth/register", body=body)

    assert response.status == 422
    assert response.json["status"] == "error"
    assert response.json["code"] == "bad_request"
    assert response.json["field"] == field
    assert table_counts()["users"] == 0


def test_login_answers_200_with_the_user_and_a_new_pair(api: RestApi, alice: Account) -> None:
    response = api.post("/auth/login", body={"username": "Alice", "password": alice.password})

    assert response.status == 200
    assert response.json["user"]["id"] == str(alice.id)
    assert response.json["refreshToken"] != alice.refresh_token
    assert api.get("/users/me", token=response.json["accessToken"]).status == 200


def test_login_writes_a_user_logged_in_event_with_the_source_address(
    api: RestApi, alice: Account
) -> None:
    api.post(
        "/auth/login",
        body={"username": "alice", "password": alice.password},
        source_ip="192.0.2.77",
    )

    [event] = outbox_events("user.logged_in")
    assert event["key"] == str(alice.id)
    assert event["payload"]["data"]["userId"] == str(alice.id)
    assert event["payload"]["data"]["sourceIp"] == "192.0.2.77"


@pytest.mark.parametrize("username", ["alice", "nobody"])
def test_a_wrong_password_or_unknown_user_gets_the_same_401(
    api: RestApi, alice: Account, username: str
) -> None:
    response = api.post("/auth/login", body={"username": username, "password": "not the one"})

    assert response.status == 401
    assert response.json == {
        "status": "error",
        "code": "unauthorized",
        "message": "wrong username or password",
    }
    assert outbox_events("user.logged_in") == []


def test_refresh_trades_a_refresh_token_for_a_new_working_pair(
    api: RestApi, alice: Account
) -> None:
    response = api.post("/auth/refresh", body={"refreshToken": alice.refresh_token})

    assert response.status == 200
    assert {"accessToken", "refreshToken", "user"} <= set(response.json)
    assert response.json["user"]["id"] == str(alice.id)
    assert api.get("/users/me", token=response.json["accessToken"]).status == 200
    again = api.post("/auth/refresh", body={"refreshToken": response.json["refreshToken"]})
    assert again.status == 200


def test_refresh_tokens_are_stored_as_sha256_hashes(alice: Account) -> None:
    import hashlib

    with session_scope() as session:
        [stored] = session.scalars(select(RefreshToken)).all()
        assert stored.token_hash == hashlib.sha256(alice.refresh_token.encode()).hexdigest()
        assert alice.refresh_token not in {stored.token_hash, str(stored.id)}


def test_a_reused_refresh_token_is_refused_and_revokes_its_whole_family(
    api: RestApi, alice: Account
) -> None:
    newer = api.post("/auth/refresh", body={"refreshToken": alice.refresh_token}).json
    spent_long_ago(alice.id)

    reused = api.post("/auth/refresh", body={"refreshToken": alice.refresh_token})

    assert reused.status == 401
    assert reused.json["code"] == "unauthorized"
    newest = api.post("/auth/refresh", body={"refreshToken": newer["refreshToken"]})
    assert newest.status == 401


def test_reuse_revokes_only_that_sign_in_not_the_users_other_sessions(
    api: RestApi, alice: Account
) -> None:
    other_login = api.post(
        "/auth/login", body={"username": "alice", "password": alice.password}
    ).json
    api.post("/auth/refresh", body={"refreshToken": alice.refresh_token})
    spent_long_ago(alice.id)

    api.post("/auth/refresh", body={"refreshToken": alice.refresh_token})

    assert (
        api.post("/auth/refresh", body={"refreshToken": other_login["refreshToken"]}).status == 200
    )


def test_logout_with_a_refresh_token_revokes_that_family_only(api: RestApi, alice: Account) -> None:
    other_login = api.post(
        "/auth/login", body={"username": "alice", "password": alice.password}
    ).json

    response = api.post(
        "/auth/logout", token=alice.access_token, body={"refreshToken": alice.refresh_token}
    )

    assert response.status == 204
    assert api.post("/auth/refresh", body={"refreshToken": alice.refresh_token}).status == 401
    assert (
        api.post("/auth/refresh", body={"refreshToken": other_login["refreshToken"]}).status == 200
    )


def test_logout_without_a_body_revokes_every_family_of_the_caller(
    api: RestApi, alice: Account, bob: Account
) -> None:
    other_login = api.post(
        "/auth/login", body={"username": "alice", "password": alice.password}
    ).json

    response = api.post("/auth/logout", token=alice.access_token)

    assert response.status == 204
    assert api.post("/auth/refresh", body={"refreshToken": alice.refresh_token}).status == 401
    assert (
        api.post("/auth/refresh", body={"refreshToken": other_login["refreshToken"]}).status == 401
    )
    assert api.post("/auth/refresh", body={"refreshToken": bob.refresh_token}).status == 200


def test_logout_cannot_revoke_someone_elses_family(
    api: RestApi, alice: Account, bob: Account
) -> None:
    response = api.post(
        "/auth/logout", token=alice.access_token, body={"refreshToken": bob.refresh_token}
    )

    assert response.status == 401
    assert api.post("/auth/refresh", body={"refreshToken": bob.refresh_token}).status == 200


def test_logout_needs_an_access_token(api: RestApi, alice: Account) -> None:
    response = api.post("/auth/logout", body={"refreshToken": alice.refresh_token})

    assert response.status == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_login_attempts_are_limited_per_address_with_retry_after(
    api: RestApi, alice: Account
) -> None:
    from parley.config import get_settings

    limit = get_settings().rate_limit_auth_address
    for attempt in range(limit):
        response = api.post(
            "/auth/login",
            body={"username": f"guess{attempt}", "password": "wrong password"},
            source_ip="192.0.2.1",
        )
        assert response.status == 401

    refused = api.post(
        "/auth/login",
        body={"username": "alice", "password": alice.password},
        source_ip="192.0.2.1",
    )

    assert refused.status == 429
    assert refused.json["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= get_settings().rate_limit_auth_window_seconds
    elsewhere = api.post(
        "/auth/login",
        body={"username": "alice", "password": alice.password},
        source_ip="192.0.2.2",
    )
    assert elsewhere.status == 200


def test_login_attempts_are_limited_per_username_across_addresses(
    api: RestApi, alice: Account
) -> None:
    from parley.config import get_settings

    for attempt in range(get_settings().rate_limit_auth_username):
        api.post(
            "/auth/login",
            body={"username": "alice", "password": "wrong password"},
            source_ip=f"198.51.{attempt // 250}.{attempt % 250 + 1}",
        )

    refused = api.post(
        "/auth/login",
        body={"username": "ALICE", "password": alice.password},
        source_ip="192.0.2.200",
    )

    assert refused.status == 429
    assert "retry-after" in refused.headers


def test_registrations_are_limited_per_address(api: RestApi) -> None:
    from parley.config import get_settings

    for index in range(get_settings().rate_limit_auth):
        assert (
            api.post(
                "/auth/register",
                body={"username": f"user{index}", "password": "long enough"},
                source_ip="192.0.2.50",
            ).status
            == 201
        )

    refused = api.post(
        "/auth/register",
        body={"username": "one.more", "password": "long enough"},
        source_ip="192.0.2.50",
    )

    assert refused.status == 429
    with session_scope() as session:
        assert session.scalar(select(User).where(User.username == "one.more")) is None


def test_refresh_with_garbage_is_401(api: RestApi) -> None:
    response = api.post("/auth/refresh", body={"refreshToken": str(uuid.uuid4())})

    assert response.status == 401
    assert response.json["code"] == "unauthorized"
