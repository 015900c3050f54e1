"""REST fixtures: API Gateway HTTP API (payload 2.0) events through the real handler."""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from parley_dev.cli import lambda_context, load_function
from tests.support.connections import ConnectionsRecorder, new_connection_id

EVENTS = Path(__file__).resolve().parent.parent / "events"
API_HOST = "abcdef1234.execute-api.us-east-1.amazonaws.com"
_request_ids = itertools.count(1)
_addresses = itertools.count(1)


def http_event(
    method: str,
    path: str,
    *,
    query: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    body: Any = None,
    token: str | None = None,
    source_ip: str = "203.0.113.10",
) -> dict[str, Any]:
    """An HTTP API payload 2.0 event as API Gateway sends it (see http_get_health.json).

    `body`: a dict/list is sent as JSON, str as is, bytes base64-encoded.
    """
    all_headers = {
        "accept": "application/json",
        "host": API_HOST,
        "user-agent": "pytest",
        "x-forwarded-for": source_ip,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    encoded_body, is_base64 = None, False
    if body is not None:
        if isinstance(body, bytes):
            raw = body
            encoded_body, is_base64 = base64.b64encode(body).decode(), True
        else:
            encoded_body = body if isinstance(body, str) else json.dumps(body)
            raw = encoded_body.encode()
        all_headers["content-type"] = "application/json"
        all_headers["content-length"] = str(len(raw))
    if token is not None:
        all_headers["authorization"] = f"Bearer {token}"
    all_headers.update({name.lower(): value for name, value in (headers or {}).items()})
    query = {
        name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in (query or {}).items()
    }
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "ANY /api/{proxy+}",
        "rawPath": path,
        "rawQueryString": urlencode(query),
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": API_HOST,
            "domainPrefix": "abcdef1234",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": "pytest",
            },
            "requestId": f"req{next(_request_ids):08d}=",
            "routeKey": "ANY /api/{proxy+}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "pathParameters": {"proxy": path.removeprefix("/api/")},
        "isBase64Encoded": is_base64,
    }
    if query:
        event["queryStringParameters"] = query
    if encoded_body is not None:
        event["body"] = encoded_body
    return event


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


class RestApi:
    """Calls the `rest` function's handler the way API Gateway invokes it."""

    def __init__(self) -> None:
        self.handler = load_function("rest")

    def invoke(self, event: dict[str, Any]) -> ApiResponse:
        result = self.handler(event, lambda_context("rest"))
        body = result.get("body") or ""
        if result.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        headers = {name.lower(): value for name, value in (result.get("headers") or {}).items()}
        return ApiResponse(result["statusCode"], headers, body)

    def request(self, method: str, path: str, **kwargs: Any) -> ApiResponse:
        return self.invoke(http_event(method, f"/api{path}", **kwargs))

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture(scope="session")
def api() -> RestApi:
    return RestApi()


@dataclass
class Account:
    id: uuid.UUID
    username: str
    password: str
    access_token: str
    refresh_token: str


@pytest.fixture
def register(api: RestApi) -> Callable[..., Account]:
    """Register a user through the API, each from its own address (no rate limit in the way)."""

    def _register(username: str, password: str = "correct horse battery", **extra: Any) -> Account:
        response = api.post(
            "/auth/register",
            body={"username": username, "password": password, **extra},
            source_ip=f"198.51.100.{next(_addresses) % 250 + 1}",
        )
        assert response.status == 201, response.text
        body = response.json
        return Account(
            id=uuid.UUID(body["user"]["id"]),
            username=body["user"]["username"],
            password=password,
            access_token=body["accessToken"],
            refresh_token=body["refreshToken"],
        )

    return _register


@pytest.fixture
def alice(register: Callable[..., Account]) -> Account:
    return register("alice", display_name="Alice")


@pytest.fixture
def bob(register: Callable[..., Account]) -> Account:
    return register("bob")


@pytest.fixture
def carol(register: Callable[..., Account]) -> Account:
    return register("carol")


def outbox_events(event_type: str | None = None) -> list[dict[str, Any]]:
    """The outbox rows, oldest first, as (topic, key, payload) dicts."""
    from parley.db import session_scope
    from parley.db.models import OutboxEvent

    with session_scope() as session:
        statement = select(OutboxEvent).order_by(OutboxEvent.id)
        if event_type is not None:
            statement = statement.where(OutboxEvent.topic == event_type)
        return [
            {"topic": row.topic, "key": row.key, "payload": row.payload}
            for row in session.scalars(statement)
        ]


def table_counts() -> dict[str, int]:
    """Row counts of every table: 'nothing changed' in one comparison."""
    from sqlalchemy import text

    from parley.db import get_engine
    from parley.db.models import Base

    with get_engine().connect() as connection:
        return {
            table.name: connection.execute(
                text(f'SELECT count(*) FROM "{table.name}"')
            ).scalar_one()
            for table in Base.metadata.sorted_tables
        }


def seed_messages(
    chat_id: uuid.UUID | str,
    sender_id: uuid.UUID,
    recipient_ids: list[uuid.UUID],
    count: int,
    *,
    receipt_status: int = 1,
) -> list[uuid.UUID]:
    """Store `count` messages as the real-time path would: seq, receipts, chat activity."""
    from parley.db import session_scope
    from parley.db.models import Chat, Message, Receipt

    chat_id = uuid.UUID(str(chat_id))
    ids = []
    with session_scope() as session:
        chat = session.get(Chat, chat_id, with_for_update=True)
        assert chat is not None
        for _ in range(count):
            chat.last_seq += 1
            message = Message(
                id=uuid.uuid4(),
                chat_id=chat_id,
                seq=chat.last_seq,
                sender_id=sender_id,
                body=f"message {chat.last_seq}",
            )
            session.add(message)
            session.flush()
            session.add_all(
                Receipt(
                    message_id=message.id,
                    user_id=recipient_id,
                    chat_id=chat_id,
                    seq=message.seq,
                    status=receipt_status,
                )
                for recipient_id in recipient_ids
            )
            ids.append(message.id)
        chat.last_message_at = datetime.now(UTC)
    return ids


# --- live WebSocket connections, for the frames REST changes push --------------

CONNECTIONS_URL = "https://wsapi12345.execute-api.us-east-1.amazonaws.com/ws"


@dataclass
class LiveConnections:
    """Users' WebSocket connections as Redis knows them; @connections is a recorder."""

    recorder: ConnectionsRecorder

    def open(self, user_id: uuid.UUID) -> str:
        import time

        from parley.stores import connections

        connection_id = new_connection_id()
        connections.add(connections.Connection(connection_id, user_id, time.time()))
        return connection_id

    def frames(self, connection_id: str, frame_type: str | None = None) -> list[dict[str, Any]]:
        return [frame["data"] for frame in self.recorder.frames(connection_id, frame_type)]


def _live(monkeypatch: pytest.MonkeyPatch, url: str | None) -> Iterator[LiveConnections]:
    import parley.push
    from parley.config import get_settings

    recording = ConnectionsRecorder()

    def client_for(endpoint: str) -> ConnectionsRecorder:
        recording.endpoints.add(endpoint)
        return recording

    monkeypatch.setattr(parley.push, "management_client", client_for)
    if url is None:
        monkeypatch.delenv("WEBSOCKET_CONNECTIONS_URL", raising=False)
    else:
        monkeypatch.setenv("WEBSOCKET_CONNECTIONS_URL", url)
    get_settings.cache_clear()
    yield LiveConnections(recording)
    get_settings.cache_clear()


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveConnections]:
    """WEBSOCKET_CONNECTIONS_URL set, as template.yaml sets it on AWS."""
    yield from _live(monkeypatch, CONNECTIONS_URL)


@pytest.fixture
def live_without_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveConnections]:
    """WEBSOCKET_CONNECTIONS_URL unset."""
    yield from _live(monkeypatch, None)
