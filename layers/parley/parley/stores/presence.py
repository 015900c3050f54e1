"""Presence: online while any connection is live; lastSeenAt when the last one closes.

Online users sit in a sorted set scored by their last sign of life (the
$connect that brought them online, then each `ping`). A user whose score is
older than `presence_ttl_seconds` counts as offline, whether or not a
$disconnect ever came (API Gateway delivers it on a best-effort basis), and
the set itself expires when nobody is left to refresh it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from parley.config import get_settings
from parley.stores.client import get_redis

_ONLINE = "presence:online"


def _last_seen_key(user_id: uuid.UUID | str) -> str:
    return f"presence:{user_id}:last_seen"


@dataclass(frozen=True)
class Presence:
    online: bool
    last_seen_at: datetime | None


def _live_since() -> float:
    """Scores at or above this are online."""
    return time.time() - get_settings().presence_ttl_seconds


def mark_online(user_id: uuid.UUID) -> None:
    """Online from now, for `presence_ttl_seconds` unless `heartbeat` renews it."""
    ttl = get_settings().presence_ttl_seconds
    pipe = get_redis().pipeline()
    pipe.zadd(_ONLINE, {str(user_id): time.time()})
    # Those who left without a word are dropped now and then.
    pipe.zremrangebyscore(_ONLINE, "-inf", f"({_live_since()}")
    pipe.expire(_ONLINE, ttl)
    pipe.execute()


heartbeat = mark_online


def mark_offline(user_id: uuid.UUID, at: datetime | None = None) -> datetime:
    at = at or datetime.now(UTC)
    pipe = get_redis().pipeline()
    pipe.zrem(_ONLINE, str(user_id))
    pipe.set(_last_seen_key(user_id), at.isoformat())
    pipe.execute()
    return at


def online_user_ids() -> set[uuid.UUID]:
    return {
        uuid.UUID(member) for member in get_redis().zrangebyscore(_ONLINE, _live_since(), "+inf")
    }


def of_users(user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Presence]:
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return {}
    # Reads only: no MULTI/EXEC, which would answer every command twice.
    pipe = get_redis().pipeline(transaction=False)
    for user_id in ids:
        pipe.zscore(_ONLINE, str(user_id))
        pipe.get(_last_seen_key(user_id))
    results = pipe.execute()
    live_since = _live_since()
    presences = {}
    for index, user_id in enumerate(ids):
        alive_at, last_seen = results[2 * index], results[2 * index + 1]
        presences[user_id] = Presence(
            online=alive_at is not None and alive_at >= live_since,
            last_seen_at=datetime.fromisoformat(last_seen) if last_seen else None,
        )
    return presences
