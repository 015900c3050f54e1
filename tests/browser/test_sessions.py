"""The web client keeps its socket's session alive, and ends with it."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS, ChatUser

pytestmark = pytest.mark.browser


def user_id_of(user: ChatUser) -> uuid.UUID:
    return uuid.UUID(
        user.page.evaluate("() => JSON.parse(localStorage.getItem('parley.session')).user.id")
    )


def connections_of(user_id: uuid.UUID) -> set[str]:
    from parley.stores import connections

    return connections.of_users([user_id]).get(user_id, set())


def stored_expiry(connection_id: str) -> float | None:
    from parley.stores import connections

    connection = connections.get(connection_id)
    return connection.token_expires_at if connection else None


def test_a_connection_whose_token_expired_renews_it_and_the_message_still_goes(pair):
    alice, bob = pair
    from parley.stores.client import get_redis

    (connection_id,) = connections_of(user_id_of(alice))
    get_redis().hset(f"conn:{connection_id}", "tokenExpiresAt", time.time() - 1)

    alice.send("Sent after my token ran out")

    expect(bob.message("Sent after my token ran out")).to_have_count(1)
    # Renewed over the same socket (`auth`), not by reconnecting.
    assert connections_of(user_id_of(alice)) == {connection_id}
    assert stored_expiry(connection_id) > time.time()


def test_a_refreshed_session_sends_auth_over_the_open_socket(pair):
    alice, _bob = pair
    (connection_id,) = connections_of(user_id_of(alice))
    before = stored_expiry(connection_id)

    # What the client does by itself a minute before the access token expires.
    alice.page.evaluate("() => import('/js/session.js').then((session) => session.refresh())")

    new_exp = alice.page.evaluate(
        """() => import('/js/session.js').then((session) =>
               session.expiresAt(session.get().accessToken) / 1000)"""
    )
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while stored_expiry(connection_id) != new_exp and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stored_expiry(connection_id) == new_exp
    assert new_exp >= before
    assert connections_of(user_id_of(alice)) == {connection_id}


def test_a_password_changed_elsewhere_signs_this_browser_out(pair, live_stack):
    alice, _bob = pair
    with httpx.Client(base_url=f"{live_stack}/api") as http:
        phone = http.post(
            "/auth/login", json={"username": alice.username, "password": alice.password}
        ).json()
        changed = http.patch(
            "/users/me/password",
            json={"currentPassword": alice.password, "newPassword": "a brand new secret"},
            headers={"authorization": f"Bearer {phone['accessToken']}"},
        )
    assert changed.status_code == 204

    expect(alice.page.get_by_test_id("auth-submit")).to_have_text("Sign in")
