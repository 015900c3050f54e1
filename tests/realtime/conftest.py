"""Real-time handlers invoked directly, as Lambda would, with real API Gateway events.

PostgreSQL and Redis are real; only the @connections API is replaced, at the
boto3 client level, by a recorder that can answer 410 for chosen connections.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError

EVENTS = Path(__file__).resolve().parent.parent / "events"
_functions: dict[str, ModuleType] = {}


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def new_connection_id() -> str:
    """Shaped like API Gateway's: 12 random bytes, base64 (so it may hold '=' and '/')."""
    return base64.b64encode(os.urandom(12)).decode()


def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
    from parley_dev.cli import lambda_context, load_function

    if function not in _functions:
        _functions[function] = load_function(function)
    return _functions[function](event, lambda_context(function))


def connect_event(
    connection_id: str,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    event = load_event("ws_connect.json")
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["requestId"] = new_connection_id()
    if token is None:
        event.pop("queryStringParameters")
        event.pop("multiValueQueryStringParameters")
    else:
        event["queryStringParameters"] = {"token": token}
        event["multiValueQueryStringParameters"] = {"token": [token]}
    for name, value in (headers or {}).items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    return event


def message_event(connection_id: str, route_key: str, body: str) -> dict[str, Any]:
    event = load_event("ws_message.json")
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["routeKey"] = route_key
    event["requestContext"]["requestId"] = new_connection_id()
    event["body"] = body
    return event


def disconnect_event(connection_id: str) -> dict[str, Any]:
    event = load_event("ws_disconnect.json")
    event["requestContext"]["connectionId"] = connection_id
    return event


# Which function serves which action (template.yaml wires the same).
ROUTES = {
    "message": "message",
    "message:read": "read",
    "message:delivered": "delivered",
    "message:pin": "pin",
    "message:unpin": "unpin",
    "message:forward": "forward",
    "message:edit": "edit",
    "message:delete": "delete",
    "chat:join": "chat_join",
    "chat:leave": "chat_leave",
    "typing": "typing",
    "users:list": "users_list",
    "ping": "ping",
}


# --- the @connections recorder -------------------------------------------------


@dataclass
class ConnectionsRecorder:
    """Stands in for the boto3 apigatewaymanagementapi client."""

    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    endpoints: set[str] = field(default_factory=set)
    closed: list[str] = field(default_factory=list)

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        if ConnectionId in self.gone:
            raise ClientError(
                {
                    "Error": {"Code": "GoneException", "Message": ""},
                    "ResponseMetadata": {"HTTPStatusCode": 410},
                },
                "PostToConnection",
            )
        self.posts.append((ConnectionId, json.loads(Data)))
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}

    def delete_connection(self, *, ConnectionId: str) -> dict[str, Any]:
        self.closed.append(ConnectionId)
        return {"ResponseMetadata": {"HTTPStatusCode": 204}}

    def frames(self, connection_id: str, frame_type: str | None = None) -> list[dict[str, Any]]:
        return [
            frame
            for target, frame in self.posts
            if target == connection_id and (frame_type is None or frame["type"] == frame_type)
        ]


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> ConnectionsRecorder:
    import parley.push

    recording = ConnectionsRecorder()

    def client_for(endpoint: str) -> ConnectionsRecorder:
        recording.endpoints.add(endpoint)
        return recording

    monkeypatch.setattr(parley.push, "management_client", client_for)
    return recording


# --- people, chats and their connections ---------------------------------------


@dataclass
class Client:
    """One WebSocket connection of a user, driven through the handlers."""

    user_id: uuid.UUID
    connection_id: str
    recorder: ConnectionsRecorder
    sent: int = 0

    def send(
        self, action: str, data: dict[str, Any] | None = None, *, request_id: str | None = None
    ) -> dict[str, Any]:
        self.sent += 1
        frame = {"action": action, "requestId": request_id or f"r{self.sent}", "data": data or {}}
        return self.send_raw(ROUTES.get(action, "default"), action, json.dumps(frame))

    def send_raw(self, function: str, route_key: str, body: str) -> dict[str, Any]:
        response = invoke(function, message_event(self.connection_id, route_key, body))
        assert response["statusCode"] == 200
        return json.loads(response["body"])

    def frames(self, frame_type: str | None = None) -> list[dict[str, Any]]:
        return self.recorder.frames(self.connection_id, frame_type)

    def disconnect(self) -> dict[str, Any]:
        return invoke("disconnect", disconnect_event(self.connection_id))


@dataclass
class World:
    alice: uuid.UUID
    bob: uuid.UUID
    carol: uuid.UUID
    group: uuid.UUID  # alice and bob
    public: uuid.UUID  # public group, bob only
    private: uuid.UUID  # carol only
    recorder: ConnectionsRecorder

    def token(self, user_id: uuid.UUID) -> str:
        from parley.auth.tokens import issue_token

        return issue_token(user_id)[0]

    def connect(self, user_id: uuid.UUID) -> Client:
        connection_id = new_connection_id()
        response = invoke("connect", connect_event(connection_id, token=self.token(user_id)))
        assert response["statusCode"] == 200, response
        return Client(user_id, connection_id, self.recorder)

    def online(self, user_id: uuid.UUID) -> Client:
        """Connected, and past the first frame (its catch-up is done)."""
        client = self.connect(user_id)
        assert client.send("ping")["status"] == "ok"
        return client


def seed_world() -> dict[str, uuid.UUID]:
    from parley.db.models import Chat, ChatMember, ChatType, User
    from parley.db.session import session_scope

    ids = {name: uuid.uuid4() for name in ("alice", "bob", "carol")}
    chats = {name: uuid.uuid4() for name in ("group", "public", "private")}
    with session_scope() as session:
        for name, user_id in ids.items():
            session.add(
                User(id=user_id, username=name, display_name=name.title(), password_hash="x")
            )
        session.flush()
        session.add_all(
            [
                Chat(id=chats["group"], type=ChatType.GROUP.value, title="Team"),
                Chat(id=chats["public"], type=ChatType.GROUP.value, title="Lobby", is_public=True),
                Chat(id=chats["private"], type=ChatType.GROUP.value, title="Carol's"),
            ]
        )
        session.flush()
        members = [
            (chats["group"], ids["alice"]),
            (chats["group"], ids["bob"]),
            (chats["public"], ids["bob"]),
            (chats["private"], ids["carol"]),
        ]
        session.add_all(ChatMember(chat_id=chat, user_id=user) for chat, user in members)
    return {**ids, **chats}


@pytest.fixture
def world(recorder: ConnectionsRecorder) -> Iterator[World]:
    yield World(**seed_world(), recorder=recorder)


def outbox_types() -> list[str]:
    from sqlalchemy import select

    from parley.db.models import OutboxEvent
    from parley.db.session import session_scope

    with session_scope() as session:
        return list(session.scalars(select(OutboxEvent.topic).order_by(OutboxEvent.id)))


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch):
    """Set variables for this test only, with the settings read again."""
    from parley.config import get_settings

    def set_env(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))
        get_settings.cache_clear()

    yield set_env
    monkeypatch.undo()
    get_settings.cache_clear()
