"""One Redis client per process, created on first use."""

from __future__ import annotations

import redis

from parley.config import get_settings
from parley.snapstart import holds_connections

_client: redis.Redis | None = None


def get_redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            get_settings().redis_url,
            decode_responses=True,
            socket_timeout=2,
            socket_connect_timeout=2,
            health_check_interval=30,
        )
    return _client


@holds_connections
def reset_redis() -> None:
    global _client
    if _client is not None:
        _client.close()
    _client = None
