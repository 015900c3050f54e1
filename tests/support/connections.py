"""Stand-ins for the API Gateway @connections API and its connection ids."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError


def new_connection_id() -> str:
    """Shaped like API Gateway's: 12 random bytes, base64 (so it may hold '=' and '/')."""
    return base64.b64encode(os.urandom(12)).decode()


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
