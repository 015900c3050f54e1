"""The WebSocket API: handshake through $connect, frames to routes, $disconnect.

Frames from one connection are invoked one after the other, in arrival
order (a per-connection inbox drained by one task); connections are served
concurrently. $disconnect runs exactly once per connection, after the frames
that arrived before the close, whoever closed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from .connections import ASGISend, Connection, ConnectionRegistry
from .events import (
    ClientInfo,
    WebSocketTarget,
    served_domain,
    ws_connect_event,
    ws_disconnect_event,
    ws_error_frame,
    ws_message_event,
)
from .ids import aws_id, now_ms
from .options import GatewayOptions
from .runtime import Runner, access_log
from .template import WebSocketApi

logger = logging.getLogger(__name__)

_END = object()  # inbox sentinel: the socket is closed, run $disconnect


def select_route(expression: str, data: str | bytes) -> str | None:
    """Evaluate `$request.body.a.b` against a JSON frame; None when it does not apply."""
    prefix = "$request.body."
    if not expression.startswith(prefix) or isinstance(data, bytes):
        return None
    try:
        value: Any = json.loads(data)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        return None
    for key in expression.removeprefix(prefix).split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _frame_size(data: str | bytes) -> int:
    return len(data.encode("utf-8")) if isinstance(data, str) else len(data)


def _status_of(result: Any) -> int:
    """$connect's answer: a proxy result's statusCode; nothing at all means 200."""
    if isinstance(result, dict) and "statusCode" in result:
        try:
            return int(result["statusCode"])
        except (TypeError, ValueError):
            return 500
    return 200


def _response_body(result: Any) -> str | bytes | None:
    """What a two-way route sends back: the proxy result's body."""
    body = result.get("body") if isinstance(result, dict) else result
    if body is None or isinstance(body, str | bytes):
        return body
    return json.dumps(body)


def _accept_headers(accept: dict[str, Any], headers: dict[str, Any]) -> None:
    """$connect's response headers go on the 101; Sec-WebSocket-Protocol picks the subprotocol."""
    for name, value in headers.items():
        if name.lower() == "sec-websocket-protocol":
            accept["subprotocol"] = str(value)
        else:
            accept["headers"].append((name.encode("latin-1"), str(value).encode("latin-1")))


class WebSocketEndpoint:
    def __init__(
        self,
        api: WebSocketApi,
        target: WebSocketTarget,
        runner: Runner,
        registry: ConnectionRegistry,
        options: GatewayOptions,
    ) -> None:
        self.api = api
        self.target = target
        self.runner = runner
        self.registry = registry
        self.options = options
        self.draining = False

    # --- handshake ----------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: ASGISend) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if self.draining:
            await self._refuse(scope, send, 503, "")
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        lowered = {name.lower(): value for name, value in headers}
        client_host, _client_port = scope.get("client") or ("127.0.0.1", 0)
        server = scope.get("server") or ("127.0.0.1", 0)
        client = ClientInfo(
            source_ip=client_host,
            user_agent=lowered.get("user-agent", ""),
            domain_name=served_domain(scope, self.options.domain_name),
            port=server[1] or 0,
        )
        connection_id, connected_at = aws_id(), now_ms()

        accept: dict[str, Any] = {"type": "websocket.accept", "headers": []}
        route = self.api.routes.get("$connect")
        if route is not None:
            event = ws_connect_event(
                self.target,
                client,
                connection_id,
                connected_at,
                headers,
                scope.get("query_string", b"").decode("latin-1"),
            )
            with access_log(
                route="$connect", connectionId=connection_id, function=route.function
            ) as log:
                try:
                    result = await self.runner.invoke(route.function, event)
                    status = _status_of(result)
                except Exception:
                    logger.exception("$connect handler %s failed", route.function)
                    result, status = None, 500
                log["status"] = status
            if not 200 <= status < 300:
                body = result.get("body") if isinstance(result, dict) else None
                if status == 500 and result is None:
                    body = json.dumps({"message": "Internal server error"})
                await self._refuse(scope, send, status, body if isinstance(body, str) else "")
                return
            if isinstance(result, dict):
                _accept_headers(accept, result.get("headers") or {})

        await send(accept)
        connection = Connection(connection_id, self.target, client, connected_at, send)
        self.registry.add(connection)
        await self._serve(connection, receive)

    async def _refuse(self, scope: dict[str, Any], send: ASGISend, status: int, body: str) -> None:
        """No socket: the client gets an HTTP response with the status."""
        if "websocket.http.response" in (scope.get("extensions") or {}):
            payload = body.encode("utf-8")
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                    ],
                }
            )
            await send({"type": "websocket.http.response.body", "body": payload})
        else:  # the server cannot send a status: the closest is a 403
            await send({"type": "websocket.close", "code": 1008})

    # --- an open connection -------------------------------------------------

    async def _serve(self, connection: Connection, receive: Any) -> None:
        worker = asyncio.create_task(self._work(connection))
        watcher = asyncio.create_task(self._expire(connection))
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    code = int(message.get("code") or 1005)
                    connection.note_close(code, message.get("reason") or "")
                    break
                if message["type"] != "websocket.receive":
                    continue
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                if _frame_size(data) > self.options.max_frame_bytes:
                    await connection.close(1009, "Message too big")
                    continue
                if connection.closing:
                    continue
                connection.touch()
                if not self._room_for(connection, data):
                    await connection.close(1008, "Too many frames waiting; slow down")
                    continue
                connection.queued_bytes += _frame_size(data)
                connection.inbox.put_nowait(data)
        finally:
            connection.note_close(1006)
            connection.closing = True
            self.registry.remove(connection.id)
            watcher.cancel()
            connection.inbox.put_nowait(_END)
            # Shielded: a cancelled socket task still owes its $disconnect.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(worker)

    def _room_for(self, connection: Connection, data: str | bytes) -> bool:
        """Whether one more frame may wait behind those being invoked (API Gateway
        throttles a connection that sends faster than its routes answer)."""
        return (
            connection.inbox.qsize() < self.options.max_queued_frames
            and connection.queued_bytes + _frame_size(data) <= self.options.max_queued_bytes
        )

    async def _expire(self, connection: Connection) -> None:
        """Close on idle timeout or at the end of the maximum lifetime."""
        idle, lifetime = self.options.idle_timeout_seconds, self.options.max_lifetime_seconds
        while not connection.closing:
            now = time.time()
            idle_left = connection.last_active_at / 1000 + idle - now
            life_left = connection.connected_at / 1000 + lifetime - now
            if life_left <= 0:
                await connection.close(1001, "Going away: maximum connection duration reached")
                return
            if idle_left <= 0:
                await connection.close(1001, "Going away: idle timeout")
                return
            await asyncio.sleep(max(0.01, min(idle_left, life_left)))

    async def _work(self, connection: Connection) -> None:
        try:
            while True:
                data = await connection.inbox.get()
                if data is _END:
                    break
                connection.queued_bytes -= _frame_size(data)
                try:
                    await self._message(connection, data)
                except Exception:
                    # One bad frame must not end the connection's service.
                    logger.exception("frame on %s could not be handled", connection.id)
                    await connection.send(
                        ws_error_frame("Internal server error", connection.id, aws_id())
                    )
        finally:
            try:
                await self._disconnect(connection)
            finally:
                connection.finished.set()

    async def _message(self, connection: Connection, data: str | bytes) -> None:
        key = select_route(self.api.route_selection_expression, data)
        route = self.api.routes.get(key) if key and not key.startswith("$") else None
        route = route or self.api.routes.get("$default")
        if route is None:
            with access_log(route=key or "-", connectionId=connection.id, function="-") as log:
                log["status"] = 403
                await connection.send(ws_error_frame("Forbidden", connection.id, aws_id()))
            return
        event = ws_message_event(
            self.target,
            connection.client,
            connection.id,
            connection.connected_at,
            route.route_key,
            data,
        )
        request_id = event["requestContext"]["requestId"]
        with access_log(
            route=route.route_key, connectionId=connection.id, function=route.function
        ) as log:
            try:
                result = await self.runner.invoke(route.function, event)
            except Exception:
                logger.exception("%s handler %s failed", route.route_key, route.function)
                log["status"] = 500
                await connection.send(
                    ws_error_frame("Internal server error", connection.id, request_id)
                )
                return
            log["status"] = _status_of(result)
        if route.two_way:
            body = _response_body(result)
            if body is not None:
                await connection.send(body)

    async def _disconnect(self, connection: Connection) -> None:
        route = self.api.routes.get("$disconnect")
        if route is None:
            return
        event = ws_disconnect_event(
            self.target,
            connection.client,
            connection.id,
            connection.connected_at,
            connection.disconnect_code or 1006,
            connection.disconnect_reason,
        )
        with access_log(
            route="$disconnect", connectionId=connection.id, function=route.function
        ) as log:
            try:
                log["status"] = _status_of(await self.runner.invoke(route.function, event))
            except Exception:
                logger.exception("$disconnect handler %s failed", route.function)
                log["status"] = 500

    async def drain(self, timeout: float) -> None:
        """Shutdown: refuse new sockets, close the others with 1001, await $disconnect."""
        self.draining = True
        connections = list(self.registry)
        for connection in connections:
            if connection.target is self.target:
                await connection.close(1001, "Going away")
        waits = [c.finished.wait() for c in connections if c.target is self.target]
        if waits:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits), timeout)
