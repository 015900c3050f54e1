"""Sessions you can end: expiry and revocation reach live sockets.

Through the real template over real sockets: tokens come from the HTTP API,
sockets are opened with them, and the sessions are ended the way a user (or
a thief) would end them.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from websockets.exceptions import InvalidStatus

from parley.auth.tokens import issue_token
from tests.security.conftest import PASSWORD, SignIn, Stack, bearer
from tests.support.peers import Peer
from tests.support.tokens import spent_long_ago


def expire_tokens_of(user_id: uuid.UUID) -> None:
    """The access tokens of the user's live connections run out (their expiry moves to the past)."""
    from parley.stores import connections
    from parley.stores.client import get_redis

    for connection_id in connections.of_users([user_id]).get(user_id, ()):
        get_redis().hset(f"conn:{connection_id}", "tokenExpiresAt", time.time() - 1)


def refreshed(outside: Stack, sign_in: SignIn) -> SignIn:
    response = outside.http().post("/auth/refresh", json={"refreshToken": sign_in.refresh_token})
    assert response.status_code == 200, response.text
    body = response.json()
    return SignIn(sign_in.user_id, sign_in.username, body["accessToken"], body["refreshToken"])


def assert_refused_handshake(outside: Stack, token: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        outside.connect(token, uuid.uuid4())
    assert refused.value.response.status_code == 401


# --- the handshake -------------------------------------------------------------


def test_the_handshake_refuses_a_valid_token_of_a_user_who_does_not_exist(
    outside: Stack,
) -> None:
    token, _ = issue_token(uuid.uuid4())

    assert_refused_handshake(outside, token)


def test_the_handshake_refuses_the_token_of_a_deleted_user(outside: Stack, alice: SignIn) -> None:
    from parley.db import session_scope
    from parley.db.models import User

    with session_scope() as session:
        session.delete(session.get(User, alice.user_id))

    assert_refused_handshake(outside, alice.access_token)


def test_access_tokens_carry_their_sign_in_as_sid(outside: Stack, alice: SignIn) -> None:
    from parley.auth.tokens import decode_access_token, decode_token

    second = outside.login("alice")

    first_sid = decode_access_token(alice.access_token).session_id
    assert first_sid == decode_token(alice.refresh_token, "refresh").family_id
    assert decode_access_token(refreshed(outside, alice).access_token).session_id == first_sid
    assert decode_access_token(second.access_token).session_id not in {None, first_sid}


# --- token expiry on a live socket ----------------------------------------------


def test_a_frame_after_the_token_expired_is_refused_with_token_expired(
    outside: Stack, alice: SignIn, bob: SignIn
) -> None:
    chat_id = outside.direct_chat(alice, bob)
    peer = outside.open(alice)
    expire_tokens_of(alice.user_id)

    ack = peer.request("message", {"chatId": chat_id, "body": "too late"})

    assert ack["status"] == "error"
    assert ack["code"] == "token_expired"
    assert peer.request("ping")["code"] == "token_expired"
    history = outside.http().get(f"/chats/{chat_id}/messages", headers=bearer(bob.access_token))
    assert history.json()["messages"] == []


def test_auth_with_a_fresh_token_lets_the_connection_go_on(
    outside: Stack, alice: SignIn, bob: SignIn
) -> None:
    chat_id = outside.direct_chat(alice, bob)
    bob_peer = outside.open(bob)
    peer = outside.open(alice)
    expire_tokens_of(alice.user_id)
    fresh = refreshed(outside, alice)

    ack = peer.request("auth", {"token": fresh.access_token})

    assert ack["status"] == "ok"
    assert datetime.fromisoformat(ack["message"]["expiresAt"]) > datetime.now(UTC)
    sent = peer.request("message", {"chatId": chat_id, "body": "back again"})
    assert sent["status"] == "ok"
    assert bob_peer.wait_for("message")["body"] == "back again"


def test_auth_before_expiry_renews_without_any_refusal(outside: Stack, alice: SignIn) -> None:
    from parley.auth.tokens import decode_access_token
    from parley.stores import connections

    peer = outside.open(alice)
    fresh = refreshed(outside, alice).access_token

    assert peer.request("auth", {"token": fresh})["status"] == "ok"

    (connection_id,) = connections.of_users([alice.user_id])[alice.user_id]
    stored = connections.get(connection_id)
    assert stored is not None
    assert stored.token_expires_at == decode_access_token(fresh).expires_at.timestamp()
    assert peer.request("ping")["status"] == "ok"


def test_auth_with_another_users_token_is_forbidden_and_changes_nothing(
    outside: Stack, alice: SignIn, bob: SignIn
) -> None:
    peer = outside.open(alice)
    expire_tokens_of(alice.user_id)

    ack = peer.request("auth", {"token": bob.access_token})

    assert ack["code"] == "forbidden"
    assert peer.request("ping")["code"] == "token_expired"


@pytest.mark.parametrize("kind", ["expired", "refresh", "forged"])
def test_auth_with_a_token_that_is_not_a_live_access_token_is_refused(
    outside: Stack, alice: SignIn, kind: str
) -> None:
    peer = outside.open(alice)
    expire_tokens_of(alice.user_id)
    token = {
        "expired": issue_token(alice.user_id, now=datetime.now(UTC) - timedelta(hours=1))[0],
        "refresh": alice.refresh_token,
        "forged": alice.access_token[:-4] + "AAAA",
    }[kind]

    ack = peer.request("auth", {"token": token})

    assert ack["code"] == ("token_expired" if kind == "expired" else "unauthorized")
    assert peer.request("ping")["code"] == "token_expired"


def test_auth_with_a_token_of_an_ended_sign_in_is_refused(outside: Stack, alice: SignIn) -> None:
    other = outside.login("alice")
    peer = outside.open(alice)
    outside.http().post(
        "/auth/logout",
        json={"refreshToken": other.refresh_token},
        headers=bearer(other.access_token),
    )

    ack = peer.request("auth", {"token": other.access_token})

    assert ack["code"] == "unauthorized"


def test_what_queued_while_away_still_arrives_after_an_expired_first_frame(
    outside: Stack, alice: SignIn, bob: SignIn
) -> None:
    chat_id = outside.direct_chat(alice, bob)
    outside.open(bob).request("message", {"chatId": chat_id, "body": "while you were away"})
    peer = outside.connect(alice.access_token, alice.user_id)
    expire_tokens_of(alice.user_id)

    assert peer.request("ping")["code"] == "token_expired"
    assert peer.request("auth", {"token": refreshed(outside, alice).access_token})["status"] == "ok"

    assert peer.wait_for("message")["body"] == "while you were away"


# --- ending a session closes its sockets ---------------------------------------


def assert_ended(peer: Peer, reason: str) -> None:
    code, frames = peer.closed()
    assert [frame["type"] for frame in frames] == ["session:ended"]
    assert frames[0]["data"]["reason"] == reason
    assert code == 1000


def test_logout_closes_that_sign_ins_sockets_and_only_those(outside: Stack, alice: SignIn) -> None:
    other = outside.login("alice")
    this_tab, this_other_tab = outside.open(alice), outside.open(alice)
    elsewhere = outside.open(other)

    response = outside.http().post(
        "/auth/logout",
        json={"refreshToken": alice.refresh_token},
        headers=bearer(alice.access_token),
    )

    assert response.status_code == 204
    assert_ended(this_tab, "logged_out")
    assert_ended(this_other_tab, "logged_out")
    assert elsewhere.request("ping")["status"] == "ok"


def test_after_logout_the_sign_ins_access_token_opens_nothing(
    outside: Stack, alice: SignIn
) -> None:
    outside.http().post(
        "/auth/logout",
        json={"refreshToken": alice.refresh_token},
        headers=bearer(alice.access_token),
    )

    assert outside.http().get("/users/me", headers=bearer(alice.access_token)).status_code == 401
    assert_refused_handshake(outside, alice.access_token)


def test_logout_everywhere_closes_every_socket_of_the_user(
    outside: Stack, alice: SignIn, bob: SignIn
) -> None:
    other = outside.login("alice")
    peers = [outside.open(alice), outside.open(other)]
    bob_peer = outside.open(bob)

    assert (
        outside.http().post("/auth/logout", headers=bearer(alice.access_token)).status_code == 204
    )

    for peer in peers:
        assert_ended(peer, "logged_out")
    assert bob_peer.request("ping")["status"] == "ok"


def test_a_refresh_token_reused_after_the_interval_closes_its_sign_ins_sockets(
    outside: Stack, alice: SignIn
) -> None:
    other = outside.login("alice")
    thief_tab = outside.open(alice)
    elsewhere = outside.open(other)
    refreshed(outside, alice)
    spent_long_ago(alice.user_id)

    reused = outside.http().post("/auth/refresh", json={"refreshToken": alice.refresh_token})

    assert reused.status_code == 401
    assert_ended(thief_tab, "session_revoked")
    assert elsewhere.request("ping")["status"] == "ok"


# --- the password ---------------------------------------------------------------


def change_password(
    outside: Stack, sign_in: SignIn, current: str, new: str, address: str = "127.0.0.1"
):
    return outside.http(address).patch(
        "/users/me/password",
        json={"currentPassword": current, "newPassword": new},
        headers=bearer(sign_in.access_token),
    )


def test_a_password_change_closes_every_other_sign_ins_sockets(
    outside: Stack, alice: SignIn
) -> None:
    phone = outside.login("alice")
    laptop = outside.open(alice)
    phone_peer = outside.open(phone)

    response = change_password(outside, alice, PASSWORD, "a brand new secret")

    assert response.status_code == 204
    assert_ended(phone_peer, "password_changed")
    assert laptop.request("ping")["status"] == "ok"
    http = outside.http()
    assert http.post("/auth/refresh", json={"refreshToken": phone.refresh_token}).status_code == 401
    assert http.get("/users/me", headers=bearer(phone.access_token)).status_code == 401
    assert http.get("/users/me", headers=bearer(alice.access_token)).status_code == 200
    assert http.post("/auth/refresh", json={"refreshToken": alice.refresh_token}).status_code == 200


def test_after_a_password_change_only_the_new_password_signs_in(
    outside: Stack, alice: SignIn
) -> None:
    change_password(outside, alice, PASSWORD, "a brand new secret")

    old = outside.http().post("/auth/login", json={"username": "alice", "password": PASSWORD})

    assert old.status_code == 401
    assert outside.login("alice", "a brand new secret").user_id == alice.user_id


def test_a_password_change_needs_the_current_password(outside: Stack, alice: SignIn) -> None:
    phone = outside.login("alice")
    phone_peer = outside.open(phone)

    response = change_password(outside, alice, "not my password", "a brand new secret")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert phone_peer.request("ping")["status"] == "ok"
    assert outside.login("alice").user_id == alice.user_id


@pytest.mark.parametrize("new", ["short", "x" * 129])
def test_a_new_password_out_of_bounds_is_refused(outside: Stack, alice: SignIn, new: str) -> None:
    response = change_password(outside, alice, PASSWORD, new)

    assert response.status_code == 422
    assert outside.login("alice").user_id == alice.user_id


def test_guessing_the_current_password_is_throttled(outside: Stack, alice: SignIn) -> None:
    from parley.config import get_settings

    for _ in range(get_settings().rate_limit_auth):
        assert (
            change_password(outside, alice, "a wrong guess", "a brand new secret").status_code
            == 403
        )

    refused = change_password(outside, alice, PASSWORD, "a brand new secret")

    assert refused.status_code == 429


# --- a refresh token spent twice at once -----------------------------------------


def test_two_tabs_refreshing_at_once_both_get_the_same_new_pair(
    outside: Stack, alice: SignIn
) -> None:
    def refresh(_: int):
        return outside.http().post("/auth/refresh", json={"refreshToken": alice.refresh_token})

    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(refresh, range(2))

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["refreshToken"] == second.json()["refreshToken"]
    assert first.json()["accessToken"] == second.json()["accessToken"]
    newer = outside.http().post(
        "/auth/refresh", json={"refreshToken": first.json()["refreshToken"]}
    )
    assert newer.status_code == 200


def test_a_second_use_within_the_interval_revokes_nothing(outside: Stack, alice: SignIn) -> None:
    peer = outside.open(alice)
    first = refreshed(outside, alice)

    again = refreshed(outside, alice)

    assert again.refresh_token == first.refresh_token
    assert peer.request("ping")["status"] == "ok"


def test_a_reuse_after_the_interval_revokes_the_family_even_the_newest(
    outside: Stack, alice: SignIn
) -> None:
    newest = refreshed(outside, alice)
    spent_long_ago(alice.user_id)

    reused = outside.http().post("/auth/refresh", json={"refreshToken": alice.refresh_token})

    assert reused.status_code == 401
    http = outside.http()
    assert (
        http.post("/auth/refresh", json={"refreshToken": newest.refresh_token}).status_code == 401
    )
    assert http.get("/users/me", headers=bearer(newest.access_token)).status_code == 401


# --- sign-in throttling: the guesser is slowed, the owner is not locked out ------


def login_from(outside: Stack, address: str, password: str):
    return outside.http(address).post(
        "/auth/login", json={"username": "alice", "password": password}
    )


def test_a_guesser_is_slowed_and_the_owner_elsewhere_is_not(outside: Stack, alice: SignIn) -> None:
    from parley.config import get_settings

    for _ in range(get_settings().rate_limit_auth):
        assert login_from(outside, "127.0.0.2", "a wrong guess").status_code == 401

    refused = login_from(outside, "127.0.0.2", PASSWORD)
    owner = login_from(outside, "127.0.0.3", PASSWORD)

    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert owner.status_code == 200


def test_a_guesser_hammering_from_one_address_never_fills_the_username_bucket(
    outside: Stack, alice: SignIn
) -> None:
    from parley.config import get_settings
    from parley.stores.client import get_redis

    limit = get_settings().rate_limit_auth
    answers = [
        login_from(outside, "127.0.0.2", "a wrong guess").status_code for _ in range(3 * limit)
    ]

    assert answers[:limit] == [401] * limit
    assert 429 in answers
    # Refused guesses were counted nowhere: the username's bucket holds the
    # same attempts as the pair's (both are written together or not at all).
    redis = get_redis()
    assert redis.zcard("ratelimit:auth:user:alice") == redis.zcard(
        "ratelimit:auth:pair:127.0.0.2:alice"
    )
    assert login_from(outside, "127.0.0.3", PASSWORD).status_code == 200


def test_guesses_spread_over_many_addresses_fill_the_larger_per_username_bucket(
    outside: Stack, alice: SignIn
) -> None:
    from parley.config import get_settings
    from parley.stores import ratelimit

    settings = get_settings()
    per_address, addresses = settings.rate_limit_auth, 3
    # Most of the bucket is filled as earlier guesses would have; the last
    # guesses come for real, each address staying within its own window.
    earlier = settings.rate_limit_auth_username - per_address * addresses
    for _ in range(earlier):
        ratelimit.hit_all([("auth:user:alice", earlier)], settings.rate_limit_auth_window_seconds)
    for attempt in range(per_address * addresses):
        address = f"127.0.{attempt // per_address + 10}.1"
        assert login_from(outside, address, "a wrong guess").status_code == 401

    refused = login_from(outside, "127.0.200.1", PASSWORD)

    assert refused.status_code == 429
