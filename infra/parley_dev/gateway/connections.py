"""Live WebSocket connections: what @connections and the socket loop share."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .events import ClientInfo, WebSocketTarget
from .ids import now_ms

logger = logging.getLogger(__name__)

ASGISend = Callable[[dict[str, Any]], Awaitable[None]]

# disconnectReason for the close codes a client sends without a reason.
_REASONS = {
    1000: "Normal closure",
    1001: "Going away",
    1005: "Client-side close frame status not set",
    1006: "Connection closed abnormally",
    1008: "Policy violation",
    1009: "Message too big",
    1012: "Service restart",
}


@dataclass
class Connection:
    id: str
    target: WebSocketTarget
    client: ClientInfo
    connected_at: int  # epoch ms
    _send: ASGISend = field(repr=False)
    last_active_at: int = 0
    # The first cause of the close wins: the gateway's when it closes first,
    # the client's otherwise. It becomes $disconnect's status and reason.
    disconnect_code: int | None = None
    disconnect_reason: str = ""
    closing: bool = False
    inbox: asyncio.Queue[Any] = field(default_factory=asyncio.Queue, repr=False)
    # Bytes of the frames waiting in the inbox (bounded by the gateway's options).
    queued_bytes: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _send_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def __post_init__(self) -> None:
        self.last_active_at = self.connected_at

    @property
    def open(self) -> bool:
        return not self.closing

    def touch(self) -> None:
        self.last_active_at = now_ms()

    def note_close(self, code: int, reason: str = "") -> None:
        if self.disconnect_code is None:
            self.disconnect_code = code
            self.disconnect_reason = reason or _REASONS.get(code, "")

    async def send(self, data: str | bytes) -> bool:
        """One frame, text for str and binary for bytes; False if it cannot go."""
        if self.closing:
            return False
        async with self._send_lock:
            if self.closing:
                return False
            message = (
                {"type": "websocket.send", "text": data}
                if isinstance(data, str)
                else {"type": "websocket.send", "bytes": data}
            )
            try:
                await self._send(message)
            except Exception as exc:
                logger.debug("send to %s failed: %s", self.id, exc)
                self.note_close(1006)
                self.closing = True
                return False
        return True

    async def close(self, code: int, reason: str) -> None:
        """Close from the gateway's side; the socket loop then runs $disconnect."""
        if self.closing:
            return
        self.note_close(code, reason)
        self.closing = True
        # Not under the send lock: a send stuck on a client that stopped
        # reading must not keep the close from going out.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self._send({"type": "websocket.close", "code": code, "reason": reason}), 5
            )


class ConnectionRegistry:
    def __init__(self) -> None:
        self._connections: dict[str, Connection] = {}

    def add(self, connection: Connection) -> None:
        self._connections[connection.id] = connection

    def remove(self, connection_id: str) -> None:
        self._connections.pop(connection_id, None)

    def get(self, connection_id: str) -> Connection | None:
        connection = self._connections.get(connection_id)
        return connection if connection is not None and connection.open else None

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._connections.values()))

    def __len__(self) -> int:
        return len(self._connections)
