"""Hostile input: forged or misused tokens, other people's chats, injection, oversized bodies."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from parley.auth.tokens import REFRESH, issue_token
from tests.rest.conftest import Account, RestApi, http_event, table_counts


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def claims(alice: Account) -> dict:
    now = datetime.now(UTC)
    return {
        "sub": str(alice.id),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": str(uuid.uuid4()),
        "typ": "access",
    }


def test_a_token_signed_with_another_secret_is_refused(api: RestApi, claims: dict) -> None:
    forged = jwt.encode(claims, "not-the-servers-secret-but-long-enough", algorithm="HS256")

    response = api.get("/users/me", token=forged)

    assert response.status == 401
    assert response.json["code"] == "unauthorized"


def test_an_unsigned_alg_none_token_is_refused(api: RestApi, claims: dict) -> None:
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."

    response = api.get("/users/me", token=unsigned)

    assert response.status == 401


def test_a_tampered_payload_with_the_original_signature_is_refused(
    api: RestApi, alice: Account, bob: Account
) -> None:
    header, payload, signature = alice.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(bob.id)

    response = api.get("/users/me", token=f"{header}.{_b64(claims)}.{signature}")

    assert response.status == 401


def test_an_expired_access_token_is_refused(api: RestApi, alice: Account) -> None:
    expired, _ = issue_token(alice.id, now=datetime.now(UTC) - timedelta(hours=1))

    response = api.get("/users/me", token=expired)

    assert response.status == 401
    assert "expired" in response.json["message"]


def test_a_refresh_token_is_refused_where_an_access_token_is_expected(
    api: RestApi, alice: Account
) -> None:
    response = api.get("/users/me", token=alice.refresh_token)

    assert response.status == 401


def test_an_access_token_is_refused_as_a_refresh_token(api: RestApi, alice: Account) -> None:
    response = api.post("/auth/refresh", body={"refreshToken": alice.access_token})

    assert response.status == 401


def test_a_signed_refresh_token_that_was_never_issued_is_refused(
    api: RestApi, alice: Account
) -> None:
    unknown, _ = issue_token(alice.id, REFRESH, family_id=uuid.uuid4())

    response = api.post("/auth/refresh", body={"refreshToken": unknown})

    assert response.status == 401


def test_a_token_for_a_user_that_no_longer_exists_is_refused(api: RestApi) -> None:
    token, _ = issue_token(uuid.uuid4())

    assert api.get("/chats", token=token).status == 401


@pytest.mark.parametrize("header", ["", "Bearer", "Basic YWxpY2U6cHc=", "Bearer  "])
def test_a_missing_or_malformed_authorization_header_is_401(api: RestApi, header: str) -> None:
    response = api.get("/chats", headers={"authorization": header} if header else None)

    assert response.status == 401
    assert response.json["code"] == "unauthorized"


@pytest.fixture
def private_group(api: RestApi, alice: Account, bob: Account) -> str:
    response = api.post(
        "/chats",
        token=alice.access_token,
        body={"type": "group", "title": "Private", "memberIds": [str(bob.id)]},
    )
    assert response.status == 201
    return response.json["id"]


def test_every_chat_route_answers_404_to_a_non_member(
    api: RestApi, alice: Account, bob: Account, carol: Account, private_group: str
) -> None:
    before = table_counts()
    token = carol.access_token

    responses = [
        api.get(f"/chats/{private_group}", token=token),
        api.get(f"/chats/{private_group}/messages", token=token),
        api.get(f"/chats/{private_group}/pins", token=token),
        api.post(f"/chats/{private_group}/members", token=token, body={"userIds": [str(carol.id)]}),
        api.delete(f"/chats/{private_group}/members/{bob.id}", token=token),
        api.delete(f"/chats/{private_group}/members/{carol.id}", token=token),
    ]

    assert [response.status for response in responses] == [404] * len(responses)
    assert {response.json["code"] for response in responses} == {"not_found"}
    # Same answer as a chat that does not exist: ids cannot be probed.
    assert api.get(f"/chats/{uuid.uuid4()}", token=token).json == responses[0].json
    assert table_counts() == before
    assert private_group not in [
        chat["id"] for chat in api.get("/chats", token=token).json["chats"]
    ]


@pytest.mark.parametrize(
    "username", ["alice' OR '1'='1", "alice'--", 'alice"; DROP TABLE users; --', "a/**/or/**/1"]
)
def test_sql_like_usernames_are_refused_and_change_nothing(
    api: RestApi, alice: Account, username: str
) -> None:
    before = table_counts()

    registered = api.post("/auth/register", body={"username": username, "password": "long enough"})
    logged_in = api.post("/auth/login", body={"username": username, "password": alice.password})

    assert (registered.status, logged_in.status) == (422, 422)
    assert registered.json["field"] == logged_in.json["field"] == "username"
    assert table_counts() == before


def test_search_text_is_matched_literally(api: RestApi, alice: Account, bob: Account) -> None:
    for query in ["%", "_", "' OR '1'='1", "%' OR 1=1 --", "\\"]:
        response = api.get("/users", token=alice.access_token, query={"query": query})

        assert response.status == 200
        assert response.json["users"] == []


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/chats/1%20OR%201=1", None),
        ("/chats/00000000-0000-0000-0000-000000000000'--/messages", None),
        ("/chats/{chat}/messages", {"before": "1; DELETE FROM messages"}),
        ("/chats/{chat}/messages", {"limit": "50 OR 1=1"}),
        ("/users", {"query": "a\u0000b"}),
    ],
)
def test_sql_like_path_and_query_values_are_refused_with_422(
    api: RestApi, alice: Account, private_group: str, path: str, query: dict | None
) -> None:
    before = table_counts()

    response = api.get(path.format(chat=private_group), token=alice.access_token, query=query)

    assert response.status == 422
    assert response.json["code"] == "bad_request"
    assert response.json["field"]
    assert table_counts() == before


def test_a_body_over_64_kb_is_refused_with_413_by_its_declared_length(api: RestApi) -> None:
    body = {"username": "bigbody", "password": "long enough", "displayName": "x" * 70_000}

    response = api.post("/auth/register", body=body)

    assert response.status == 413
    assert response.json["code"] == "too_large"
    assert table_counts()["users"] == 0


def test_a_body_over_64_kb_is_refused_even_when_its_length_is_understated(api: RestApi) -> None:
    body = json.dumps({"username": "bigbody", "password": "x" * 70_000})
    event = http_event("POST", "/api/auth/register", body=body, headers={"content-length": "10"})

    response = api.invoke(event)

    assert response.status == 413
    assert table_counts()["users"] == 0


def test_a_base64_binary_body_over_64_kb_is_refused_with_413(api: RestApi, alice: Account) -> None:
    event = http_event("PATCH", "/api/users/me", body=b"\x00" * 65_537, token=alice.access_token)
    del event["headers"]["content-length"]

    response = api.invoke(event)

    assert response.status == 413


def test_a_body_of_exactly_64_kb_is_accepted(api: RestApi, alice: Account) -> None:
    padding = 64 * 1024 - len(json.dumps({"displayName": "Al", "pad": ""}))
    body = json.dumps({"displayName": "Al", "pad": "p" * padding})
    assert len(body) == 64 * 1024

    response = api.patch("/users/me", token=alice.access_token, body=body)

    assert response.status == 200
    assert response.json["displayName"] == "Al"


def test_a_body_that_is_not_json_is_a_422_naming_the_body(api: RestApi) -> None:
    response = api.post("/auth/login", body="{not json")

    assert response.status == 422
    assert response.json["field"] == "body"


def test_an_unknown_route_is_a_404_in_the_error_shape(api: RestApi) -> None:
    response = api.get("/no/such/route")

    assert response.status == 404
    assert response.json == {"status": "error", "code": "not_found", "message": "Not Found"}


def test_an_unreachable_redis_is_a_503_naming_it_without_any_internals(
    api: RestApi, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.clients import reset_clients

    # Presence lives in Redis: with Redis unreachable the profile cannot be built.
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    reset_clients()
    try:
        response = api.get("/users/me", token=alice.access_token)
    finally:
        monkeypatch.undo()
        reset_clients()

    assert response.status == 503
    assert response.headers["retry-after"] == "1"
    assert response.json == {
        "status": "error",
        "code": "unavailable",
        "message": "Redis is not answering; try again shortly",
    }
    assert "Traceback" not in response.text and "127.0.0.1" not in response.text
