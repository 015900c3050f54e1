"""Event payloads in the shapes AWS delivers them.

Built from API Gateway's, EventBridge's and the Kafka event sources'
documented payloads; Powertools' parser models accept them (tested).
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from .cfn import ACCOUNT_ID, REGION
from .ids import aws_id, clf_time, iso_time, now_ms

# ASGI lower-cases header names; API Gateway passes them as the client wrote
# them. Browsers and most clients use these spellings.
_CANONICAL = {
    name.lower(): name
    for name in (
        "Host",
        "Origin",
        "User-Agent",
        "Authorization",
        "Cookie",
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Protocol",
        "X-Forwarded-For",
        "X-Forwarded-Port",
        "X-Forwarded-Proto",
        "X-Amzn-Trace-Id",
        "Accept-Encoding",
        "Accept-Language",
        "Cache-Control",
        "Pragma",
    )
}


def canonical_header(name: str) -> str:
    return _CANONICAL.get(name) or "-".join(part.capitalize() for part in name.split("-"))


@dataclass(frozen=True)
class ClientInfo:
    """What API Gateway knows of the peer, fixed at connect."""

    source_ip: str
    user_agent: str
    domain_name: str
    port: int


def served_domain(scope: dict[str, Any], configured: str | None = None) -> str:
    """The gateway's own "host:port": configured, else the address its socket serves on.

    What a client writes in its Host header never decides it: handlers push
    to this domain, and a client must not be able to redirect those pushes.
    """
    if configured:
        return configured
    host, port = scope.get("server") or ("127.0.0.1", 0)
    host = f"[{host}]" if ":" in str(host) else str(host)
    return f"{host}:{port}" if port else host


def multi_value(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in pairs:
        result.setdefault(name, []).append(value)
    return result


def last_value(multi: dict[str, list[str]]) -> dict[str, str]:
    return {name: values[-1] for name, values in multi.items()}


# --- WebSocket API ----------------------------------------------------------


@dataclass(frozen=True)
class WebSocketTarget:
    api_id: str
    stage: str


def _ws_request_context(
    target: WebSocketTarget,
    client: ClientInfo,
    connection_id: str,
    connected_at: int,
    route_key: str,
    event_type: str,
) -> dict[str, Any]:
    request_id = aws_id()
    epoch = now_ms()
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": clf_time(epoch),
        "messageDirection": "IN",
        "stage": target.stage,
        "connectedAt": connected_at,
        "requestTimeEpoch": epoch,
        "identity": {"sourceIp": client.source_ip, "userAgent": client.user_agent},
        "requestId": request_id,
        "domainName": client.domain_name,
        "connectionId": connection_id,
        "apiId": target.api_id,
    }


def ws_connect_event(
    target: WebSocketTarget,
    client: ClientInfo,
    connection_id: str,
    connected_at: int,
    raw_headers: list[tuple[str, str]],
    query_string: str,
) -> dict[str, Any]:
    headers = [(canonical_header(name), value) for name, value in raw_headers]
    headers += [
        ("X-Forwarded-For", client.source_ip),
        ("X-Forwarded-Port", str(client.port)),
        ("X-Forwarded-Proto", "http"),
    ]
    event: dict[str, Any] = {
        "headers": last_value(multi_value(headers)),
        "multiValueHeaders": multi_value(headers),
        "requestContext": _ws_request_context(
            target, client, connection_id, connected_at, "$connect", "CONNECT"
        ),
        "isBase64Encoded": False,
    }
    query = parse_qsl(query_string, keep_blank_values=True)
    if query:
        event["queryStringParameters"] = last_value(multi_value(query))
        event["multiValueQueryStringParameters"] = multi_value(query)
    return event


def ws_message_event(
    target: WebSocketTarget,
    client: ClientInfo,
    connection_id: str,
    connected_at: int,
    route_key: str,
    data: str | bytes,
) -> dict[str, Any]:
    context = _ws_request_context(target, client, connection_id, connected_at, route_key, "MESSAGE")
    context["messageId"] = aws_id()
    binary = isinstance(data, bytes)
    return {
        "requestContext": context,
        "body": base64.b64encode(data).decode("ascii") if binary else data,
        "isBase64Encoded": binary,
    }


def ws_disconnect_event(
    target: WebSocketTarget,
    client: ClientInfo,
    connection_id: str,
    connected_at: int,
    status_code: int,
    reason: str,
) -> dict[str, Any]:
    context = _ws_request_context(
        target, client, connection_id, connected_at, "$disconnect", "DISCONNECT"
    )
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    headers = {"Host": client.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    return {
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def ws_error_frame(message: str, connection_id: str, request_id: str) -> str:
    return json.dumps({"message": message, "connectionId": connection_id, "requestId": request_id})


# --- EventBridge schedules --------------------------------------------------


def scheduled_event(rule_name: str, epoch_ms: int | None = None) -> dict[str, Any]:
    epoch = now_ms() if epoch_ms is None else epoch_ms
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": iso_time(epoch)[:19] + "Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }
