"""A WebSocket client as the tests drive it: acks matched by requestId, other frames kept."""

from __future__ import annotations

import json
import socket
import struct
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

WAIT_SECONDS = 10.0


@dataclass
class Peer:
    """One WebSocket connection: acks matched by requestId, other frames kept in order."""

    user_id: uuid.UUID
    socket: ClientConnection
    frames: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0

    def request(self, action: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        self.sent += 1
        request_id = f"{action}-{self.sent}"
        self.socket.send(
            json.dumps({"action": action, "requestId": request_id, "data": data or {}})
        )
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            frame = self._next(deadline)
            if frame.get("type") == "ack" and frame.get("requestId") == request_id:
                return frame
            self.frames.append(frame)

    def wait_for(
        self, frame_type: str, where: Callable[[dict[str, Any]], bool] = lambda data: True
    ) -> dict[str, Any]:
        """The first frame of this type whose data matches (already received or to come)."""
        deadline = time.monotonic() + WAIT_SECONDS
        seen = 0
        while True:
            for frame in self.frames[seen:]:
                if frame.get("type") == frame_type and where(frame.get("data") or {}):
                    self.frames.remove(frame)
                    return frame["data"]
            seen = len(self.frames)
            self.frames.append(self._next(deadline))

    def has(
        self, frame_type: str, where: Callable[[dict[str, Any]], bool] = lambda d: True
    ) -> bool:
        """Whether such a frame arrived, after a ping has flushed everything before it."""
        self.request("ping")
        return any(f["type"] == frame_type and where(f["data"]) for f in self.frames)

    def closed(self) -> tuple[int | None, list[dict[str, Any]]]:
        """Read until the server closes: its close code and the frames before it."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                self.frames.append(self._next(deadline))
            except ConnectionClosed as closed:
                received = closed.rcvd
                return (received.code if received else None), self.frames

    def kill(self) -> None:
        """Drop the TCP connection without a close frame (RST), as a crashed client would."""
        raw = self.socket.socket
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()

    def close(self) -> None:
        self.socket.close()

    def _next(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"nothing more arrived; frames so far: {self.frames}")
        try:
            return json.loads(self.socket.recv(timeout=remaining))
        except TimeoutError as error:
            raise AssertionError(f"nothing more arrived; frames so far: {self.frames}") from error
