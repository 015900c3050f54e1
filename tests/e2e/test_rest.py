"""The REST API as a client sees it: over HTTP, through the dev gateway and Mangum."""

from __future__ import annotations

import uuid

import httpx
import pytest
from websockets.sync.client import connect

from tests.support.chatters import Chatters


def _register(api: httpx.Client, name: str) -> dict:
    response = api.post(
        "/auth/register",
        json={"username": f"{name}_{uuid.uuid4().hex[:6]}", "password": "correct horse"},
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_health_reports_every_service_up(api: httpx.Client) -> None:
    response = api.get("/health")

    assert response.status_code == 200
    assert response.json()["down"] == []


def test_register_open_a_chat_send_over_websocket_and_read_the_history(
    api: httpx.Client, gateway_url: str
) -> None:
    ada = _register(api, "ada")
    bob = _register(api, "bob")
    as_ada = {"Authorization": f"Bearer {ada['accessToken']}"}

    chat = api.post(
        "/chats", json={"type": "direct", "memberIds": [bob["user"]["id"]]}, headers=as_ada
    )
    assert chat.status_code == 201, chat.text
    chat_id = chat.json()["id"]

    ws_url = gateway_url.replace("http://", "ws://") + f"/ws?token={ada['accessToken']}"
    with connect(ws_url) as socket:
        socket.send(
            '{"action": "message", "requestId": "r1", '
            f'"data": {{"chatId": "{chat_id}", "body": "hello over the wire"}}}}'
        )
        ack = socket.recv(timeout=10)
    assert '"status": "ok"' in ack or '"status":"ok"' in ack

    history = api.get(f"/chats/{chat_id}/messages", headers=as_ada)
    assert history.status_code == 200
    assert [m["body"] for m in history.json()["messages"]] == ["hello over the wire"]

    chats = api.get("/chats", headers={"Authorization": f"Bearer {bob['accessToken']}"})
    assert chats.json()["chats"][0]["unreadCount"] == 1


def test_errors_come_back_in_the_shared_shape(api: httpx.Client) -> None:
    missing_token = api.get("/users/me")
    bad_body = api.post("/auth/register", json={"username": "x"})

    assert missing_token.status_code == 401
    assert missing_token.json()["status"] == "error"
    assert missing_token.json()["code"] == "unauthorized"
    assert bad_body.status_code == 422
    assert bad_body.json()["code"] == "bad_request"


def test_a_refused_websocket_handshake_is_a_401(gateway_url: str) -> None:
    ws_url = gateway_url.replace("http://", "ws://") + "/ws?token=forged"

    with pytest.raises(Exception) as refused:
        connect(ws_url).close()

    assert "401" in str(refused.value)


def test_a_group_created_over_rest_reaches_its_members_live_connections(
    api: httpx.Client, chatters: Chatters
) -> None:
    from parley.auth.tokens import issue_token

    bob = chatters.open(chatters.bob)
    as_alice = {"Authorization": f"Bearer {issue_token(chatters.alice)[0]}"}

    created = api.post(
        "/chats",
        json={"type": "group", "title": "Launch", "memberIds": [str(chatters.bob)]},
        headers=as_alice,
    )

    assert created.status_code == 201, created.text
    chat_id = created.json()["id"]
    joined = bob.wait_for("chat:member", lambda data: data["chatId"] == chat_id)
    assert joined == {
        "chatId": chat_id,
        "userId": str(chatters.bob),
        "event": "joined",
        "by": str(chatters.alice),
    }
