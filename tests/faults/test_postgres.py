"""PostgreSQL stalls (every backend stopped) or restarts: fail fast, tell the truth, heal."""

from __future__ import annotations

import httpx

from tests.faults.conftest import Fault
from tests.support.chatters import Chatters


def test_a_stalled_postgres_answers_503_unavailable_then_heals(
    own_postgres: Fault, fault_chatters: Chatters, fault_gateway: str
) -> None:
    alice = fault_chatters.open(fault_chatters.alice)
    send = {"chatId": str(fault_chatters.group), "body": "hello"}
    assert alice.request("message", send)["status"] == "ok"

    own_postgres.pause()
    try:
        health = httpx.get(f"{fault_gateway}/api/health", timeout=30)
        chats = httpx.get(f"{fault_gateway}/api/chats", headers=_bearer(alice), timeout=30)
        ack = alice.request("message", {**send, "body": "during"})
    finally:
        own_postgres.resume()

    assert health.status_code == 503
    assert health.json()["down"] == ["postgres"]
    assert chats.status_code == 503
    assert chats.json()["code"] == "unavailable"
    assert "PostgreSQL" in chats.json()["message"]
    assert ack["status"] == "error"
    assert ack["code"] == "unavailable"

    # Back: the same processes serve again, without a restart.
    assert alice.request("message", {**send, "body": "after"})["status"] == "ok"
    assert httpx.get(f"{fault_gateway}/api/health").status_code == 200


def test_a_restarted_postgres_serves_again_without_restarting_anything(
    own_postgres: Fault, fault_chatters: Chatters
) -> None:
    alice = fault_chatters.open(fault_chatters.alice)
    send = {"chatId": str(fault_chatters.group), "body": "before"}
    assert alice.request("message", send)["status"] == "ok"

    own_postgres.restart()

    ack = alice.request("message", {**send, "body": "after"})
    assert ack["status"] == "ok", ack


def _bearer(peer) -> dict[str, str]:
    from parley.auth.tokens import issue_token

    return {"Authorization": f"Bearer {issue_token(peer.user_id)[0]}"}
