"""Presence: online while any connection is live; lastSeenAt when the last one closes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from parley.stores.client import get_redis

_ONLINE = "presence:online"


def _last_seen_key(user_id: uuid.UUID | str) -> str:
    return f"presence:{user_id}:last_seen"


@dataclass(frozen=True)
class Presence:
    online: bool
    last_seen_at: datetime | None


def mark_online(user_id: uuid.UUID) -> None:
    get_redis().sadd(_ONLINE, str(user_id))


def mark_offline(user_id: uuid.UUID, at: datetime | None = None) -> datetime:
    at = at or datetime.now(UTC)
    pipe = get_redis().pipeline()
    pipe.srem(_ONLINE, str(user_id))
    pipe.set(_last_seen_key(user_id), at.isoformat())
    pipe.execute()
    return at


def online_user_ids() -> set[uuid.UUID]:
    return {uuid.UUID(member) for member in get_redis().smembers(_ONLINE)}


def of_users(user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Presence]:
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return {}
    pipe = get_redis().pipeline()
    for user_id in ids:
        pipe.sismember(_ONLINE, str(user_id))
        pipe.get(_last_seen_key(user_id))
    results = pipe.execute()
    presences = {}
    for index, user_id in enumerate(ids):
        online, last_seen = results[2 * index], results[2 * index + 1]
        presences[user_id] = Presence(
            online=bool(online),
            last_seen_at=datetime.fromisoformat(last_seen) if last_seen else None,
        )
    return presences
