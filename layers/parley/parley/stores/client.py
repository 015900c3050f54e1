"""One Redis client per process, created on first use."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from parley.config import get_settings
from parley.snapstart import holds_connections

_client: redis.Redis | None = None


def get_redis() -> redis.Redis:
    global _client
    if _client is None:
        timeout = get_settings().redis_timeout_seconds
        _client = redis.Redis.from_url(
            get_settings().redis_url,
            decode_responses=True,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
            # Once, at once, on a broken connection (a restarted Redis closed
            # it); never on a timeout: a stalled Redis fails the request fast.
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
    return _client


@holds_connections
def reset_redis() -> None:
    global _client
    if _client is not None:
        _client.close()
    _client = None
