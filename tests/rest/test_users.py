"""Profiles with presence: /users/me, PATCH /users/me, /users?query=&online=."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from parley.stores import presence
from tests.rest.conftest import Account, RestApi, table_counts


def test_me_is_the_callers_profile_with_presence(api: RestApi, alice: Account) -> None:
    presence.mark_online(alice.id)

    response = api.get("/users/me", token=alice.access_token)

    assert response.status == 200
    assert response.json["id"] == str(alice.id)
    assert response.json["username"] == "alice"
    assert response.json["displayName"] == "Alice"
    assert response.json["online"] is True


def test_patch_me_changes_the_display_name(api: RestApi, alice: Account) -> None:
    response = api.patch("/users/me", token=alice.access_token, body={"displayName": "  Ada  "})

    assert response.status == 200
    assert response.json["displayName"] == "Ada"
    assert api.get("/users/me", token=alice.access_token).json["displayName"] == "Ada"


def test_patch_me_with_null_falls_back_to_the_username(api: RestApi, alice: Account) -> None:
    response = api.patch("/users/me", token=alice.access_token, body={"displayName": None})

    assert response.json["displayName"] == "alice"


def test_patch_me_without_the_field_changes_nothing(api: RestApi, alice: Account) -> None:
    response = api.patch("/users/me", token=alice.access_token, body={})

    assert response.status == 200
    assert response.json["displayName"] == "Alice"


def test_patch_me_refuses_a_display_name_over_64_characters(api: RestApi, alice: Account) -> None:
    before = table_counts()

    response = api.patch("/users/me", token=alice.access_token, body={"displayName": "x" * 65})

    assert response.status == 422
    assert response.json["field"] == "displayName"
    assert api.get("/users/me", token=alice.access_token).json["displayName"] == "Alice"
    assert table_counts() == before


def test_users_lists_everyone_by_username_with_presence(
    api: RestApi, alice: Account, bob: Account, carol: Account
) -> None:
    presence.mark_online(bob.id)
    seen = presence.mark_offline(carol.id, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))

    users = api.get("/users", token=alice.access_token).json["users"]

    assert [user["username"] for user in users] == ["alice", "bob", "carol"]
    by_name = {user["username"]: user for user in users}
    assert by_name["bob"]["online"] is True
    assert by_name["carol"]["online"] is False
    assert datetime.fromisoformat(by_name["carol"]["lastSeenAt"]) == seen


def test_users_query_matches_part_of_a_username_or_display_name(
    api: RestApi, alice: Account, bob: Account, register
) -> None:
    register("robert", display_name="Bobby Tables")

    by_username = api.get("/users", token=alice.access_token, query={"query": "BO"}).json
    by_display = api.get("/users", token=alice.access_token, query={"query": "tables"}).json

    assert [user["username"] for user in by_username["users"]] == ["bob", "robert"]
    assert [user["username"] for user in by_display["users"]] == ["robert"]


def test_users_online_filter_narrows_to_online_or_offline(
    api: RestApi, alice: Account, bob: Account, carol: Account
) -> None:
    presence.mark_online(bob.id)

    online = api.get("/users", token=alice.access_token, query={"online": True}).json["users"]
    offline = api.get("/users", token=alice.access_token, query={"online": False}).json["users"]

    assert [user["username"] for user in online] == ["bob"]
    assert [user["username"] for user in offline] == ["alice", "carol"]


def test_users_limit_is_bounded(api: RestApi, alice: Account) -> None:
    assert api.get("/users", token=alice.access_token, query={"limit": 0}).status == 422
    assert api.get("/users", token=alice.access_token, query={"limit": 101}).status == 422
    assert api.get("/users", token=alice.access_token, query={"limit": 1}).status == 200


def test_one_users_profile_by_id(api: RestApi, alice: Account, bob: Account) -> None:
    assert api.get(f"/users/{bob.id}", token=alice.access_token).json["username"] == "bob"
    missing = api.get(f"/users/{uuid.uuid4()}", token=alice.access_token)
    assert missing.status == 404
    assert missing.json["code"] == "not_found"
