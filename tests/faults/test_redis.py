"""Redis stalls or restarts (its data lost): requests fail fast, then everything heals."""

from __future__ import annotations

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.faults.conftest import Fault
from tests.support.chatters import Chatters


def register(base_url: str, username: str) -> dict:
    response = httpx.post(
        f"{base_url}/api/auth/register",
        json={"username": username, "password": "correct horse battery"},
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_after_a_redis_restart_rest_answers_without_errors(
    own_redis: Fault, fault_gateway: str
) -> None:
    account = register(fault_gateway, "rosa")
    bearer = {"Authorization": f"Bearer {account['accessToken']}"}

    own_redis.restart()

    login = httpx.post(
        f"{fault_gateway}/api/auth/login",
        json={"username": "rosa", "password": "correct horse battery"},
    )
    assert login.status_code == 200, login.text
    for path in ("/api/users/me", "/api/chats", "/api/users"):
        response = httpx.get(f"{fault_gateway}{path}", headers=bearer)
        assert response.status_code == 200, (path, response.text)


def test_a_socket_redis_forgot_is_closed_on_its_next_frame_and_reconnects(
    own_redis: Fault, fault_chatters: Chatters
) -> None:
    bob = fault_chatters.open(fault_chatters.bob)

    own_redis.restart()  # every registration is gone

    with pytest.raises(ConnectionClosed):
        bob.request("ping")
    # The client reconnects: registered again, and reachable.
    bob = fault_chatters.open(fault_chatters.bob)
    alice = fault_chatters.open(fault_chatters.alice)
    sent = alice.request("message", {"chatId": str(fault_chatters.group), "body": "still there?"})
    assert sent["status"] == "ok"
    assert bob.wait_for("message")["body"] == "still there?"


def test_a_stalled_redis_fails_requests_with_unavailable_and_recovers(
    own_redis: Fault, fault_chatters: Chatters
) -> None:
    bob = fault_chatters.open(fault_chatters.bob)

    own_redis.pause()
    try:
        ack = bob.request("ping")
    finally:
        own_redis.resume()

    assert ack["status"] == "error"
    assert ack["code"] == "unavailable"
    assert "Redis" in ack["message"]
    assert bob.request("ping")["message"] == "pong"
