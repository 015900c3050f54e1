"""The @connections management API: POST (push a frame), GET (describe), DELETE (close).

Spoken as boto3's `apigatewaymanagementapi` client expects it: the id is
URL-encoded in the path (ids carry `=`, `/` and `+`), GetConnection answers
lower-camel JSON with ISO-8601 times, and errors name their type in the
`x-amzn-ErrorType` header. Every request must be SigV4-signed by the
credentials the functions get, as on AWS (see `sigv4`): an unsigned or
wrongly signed one answers 403 `ForbiddenException` before anything else.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from typing import Any
from urllib.parse import unquote

from .cfn import REGION
from .connections import ASGISend, ConnectionRegistry
from .ids import iso_time
from .options import GatewayOptions
from .runtime import access_log
from .sigv4 import SignatureRejected, WireRequest, credentials_the_functions_get, verify

logger = logging.getLogger(__name__)

PREFIX = "/@connections/"


async def _respond(
    send: ASGISend, status: int, body: dict[str, Any] | None = None, error_type: str | None = None
) -> None:
    payload = b"" if body is None else json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if error_type:
        headers.append((b"x-amzn-errortype", error_type.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _read_body(receive: Any, limit: int) -> tuple[bytes | None, str]:
    """The request body (None once it passes `limit` bytes) and the SHA-256 of all of it."""
    chunks, size, digest = [], 0, hashlib.sha256()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        digest.update(chunk)
        if size <= limit:
            chunks.append(chunk)
        if not message.get("more_body"):
            break
    return (None if size > limit else b"".join(chunks)), digest.hexdigest()


class ManagementApi:
    def __init__(self, registry: ConnectionRegistry, options: GatewayOptions) -> None:
        self.registry = registry
        self.options = options
        self._credentials: dict[str, str] | None = options.management_credentials

    def credentials(self) -> dict[str, str]:
        # Resolved on first use: the functions' environment is in place by then.
        if self._credentials is None:
            self._credentials = credentials_the_functions_get()
        if self.options.management_credentials is not None:
            return self._credentials
        # Environments started later inherit the process's variables as they are then.
        key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        if key and secret and key not in self._credentials:
            return {**self._credentials, key: secret}
        return self._credentials

    def _authenticate(self, scope: dict[str, Any], raw_path: str, payload_sha256: str) -> None:
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        request = WireRequest(
            method=scope["method"],
            raw_path=raw_path,
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            payload_sha256=payload_sha256,
        )
        verify(request, self.credentials(), REGION)

    async def __call__(
        self, scope: dict[str, Any], receive: Any, send: ASGISend, raw_id: str
    ) -> None:
        # Decode the raw path segment ourselves: the server has already turned
        # %2F into "/" in scope["path"], which would split ids that hold one.
        connection_id = unquote(raw_id)
        method = scope["method"]
        with access_log(
            route=f"{method} @connections", connectionId=connection_id, function="-"
        ) as log:
            body, payload_sha256 = await _read_body(receive, self.options.max_frame_bytes)
            raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
            try:
                self._authenticate(scope, raw_path, payload_sha256)
            except SignatureRejected as rejected:
                log["status"] = 403
                await _respond(send, 403, {"message": str(rejected)}, "ForbiddenException")
                return
            if not connection_id or "/" in raw_id:
                log["status"] = 403
                await _respond(send, 403, {"message": "Forbidden"}, "ForbiddenException")
                return
            handler = {"POST": self._post, "GET": self._get, "DELETE": self._delete}.get(method)
            if handler is None:
                log["status"] = 403
                await _respond(send, 403, {"message": "Forbidden"}, "ForbiddenException")
                return
            log["status"] = await handler(connection_id, body, send)

    async def _gone(self, send: ASGISend) -> int:
        await _respond(send, 410, {"message": None}, "GoneException")
        return 410

    async def _post(self, connection_id: str, body: bytes | None, send: ASGISend) -> int:
        if body is None:
            await _respond(send, 413, {"message": "Message too long"}, "PayloadTooLargeException")
            return 413
        connection = self.registry.get(connection_id)
        if connection is None:
            return await self._gone(send)
        try:
            frame: str | bytes = body.decode("utf-8")
        except UnicodeDecodeError:
            frame = body
        try:
            # A timeout scope, not wait_for: no task of its own for every push.
            async with asyncio.timeout(self.options.post_timeout_seconds):
                sent = await connection.send(frame)
        except TimeoutError:
            # A client that stopped reading: treat it as gone rather than hold
            # the caller (and its Lambda) forever.
            logger.warning("connection %s did not take a frame in time; closing it", connection_id)
            asyncio.get_running_loop().create_task(connection.close(1008, "Slow consumer"))
            sent = False
        if not sent:
            return await self._gone(send)
        await _respond(send, 200)
        return 200

    async def _get(self, connection_id: str, body: bytes | None, send: ASGISend) -> int:
        connection = self.registry.get(connection_id)
        if connection is None:
            return await self._gone(send)
        await _respond(
            send,
            200,
            {
                "connectedAt": iso_time(connection.connected_at),
                "identity": {
                    "sourceIp": connection.client.source_ip,
                    "userAgent": connection.client.user_agent,
                },
                "lastActiveAt": iso_time(connection.last_active_at),
            },
        )
        return 200

    async def _delete(self, connection_id: str, body: bytes | None, send: ASGISend) -> int:
        connection = self.registry.get(connection_id)
        if connection is None:
            return await self._gone(send)
        await connection.close(1000, "Connection deleted")
        await _respond(send, 204)
        return 204
