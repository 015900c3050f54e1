"""A Redis cache of the newest messages of each chat, as their wire views.

Only an accelerator: PostgreSQL holds every message, so the cache may be
flushed at any time without losing anything. Entries are dropped when the
message changes (edit, delete, pin, unpin) rather than rewritten, so a stale
view can never outlive the change that made it stale.

Keys: ``msgcache:msg:{id}`` the view (JSON, with an expiry) and
``msgcache:chat:{chatId}`` a sorted set of message ids scored by seq, trimmed
to the newest ``message_cache_size``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from parley.config import get_settings
from parley.stores.client import get_redis

_ENTRY_TTL_SECONDS = 24 * 3600


def _message_key(message_id: uuid.UUID | str) -> str:
    return f"msgcache:msg:{message_id}"


def _chat_key(chat_id: uuid.UUID | str) -> str:
    return f"msgcache:chat:{chat_id}"


def put(view: dict[str, Any]) -> None:
    """Remember a message view (its per-reader `status` is not kept)."""
    entry = {key: value for key, value in view.items() if key != "status"}
    size = get_settings().message_cache_size
    pipe = get_redis().pipeline()
    pipe.set(_message_key(view["id"]), json.dumps(entry), ex=_ENTRY_TTL_SECONDS)
    pipe.zadd(_chat_key(view["chatId"]), {view["id"]: view["seq"]})
    pipe.zremrangebyrank(_chat_key(view["chatId"]), 0, -size - 1)
    pipe.expire(_chat_key(view["chatId"]), _ENTRY_TTL_SECONDS)
    pipe.execute()


def get(message_id: uuid.UUID | str) -> dict[str, Any] | None:
    raw = get_redis().get(_message_key(message_id))
    return json.loads(raw) if raw else None


def recent(chat_id: uuid.UUID | str, limit: int = 50) -> list[dict[str, Any]]:
    """The newest cached views of a chat, newest first.

    Entries dropped by a change are simply missing: read the database when
    completeness matters.
    """
    redis = get_redis()
    ids = redis.zrevrange(_chat_key(chat_id), 0, max(0, limit - 1))
    if not ids:
        return []
    raws = redis.mget([_message_key(message_id) for message_id in ids])
    return [json.loads(raw) for raw in raws if raw]


def invalidate(message_id: uuid.UUID | str) -> None:
    get_redis().delete(_message_key(message_id))
