"""Live WebSocket connections: which user holds which connection ids."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from parley.config import get_settings
from parley.stores.client import get_redis


def _conn_key(connection_id: str) -> str:
    return f"conn:{connection_id}"


def _user_key(user_id: uuid.UUID | str) -> str:
    return f"user:{user_id}:conns"


@dataclass(frozen=True)
class Connection:
    connection_id: str
    user_id: uuid.UUID
    connected_at: float
    source_ip: str = ""
    # The sign-in whose access token opened (or last renewed) the connection,
    # and when that token expires (epoch seconds; None: never checked).
    session_id: str | None = None
    token_expires_at: float | None = None
    # When the connection sent its first frame (None: not yet).
    confirmed_at: float | None = None

    @classmethod
    def from_fields(cls, connection_id: str, fields: dict[str, str]) -> Connection:
        expires = fields.get("tokenExpiresAt")
        confirmed = fields.get("confirmedAt")
        return cls(
            connection_id=connection_id,
            user_id=uuid.UUID(fields["userId"]),
            connected_at=float(fields.get("connectedAt") or time.time()),
            source_ip=fields.get("sourceIp", ""),
            session_id=fields.get("sessionId") or None,
            token_expires_at=float(expires) if expires else None,
            confirmed_at=float(confirmed) if confirmed else None,
        )


def add(connection: Connection) -> bool:
    """Register a connection; True when it is the user's only live one."""
    ttl = get_settings().connection_ttl_seconds
    pipe = get_redis().pipeline()
    pipe.hset(
        _conn_key(connection.connection_id),
        mapping={
            "userId": str(connection.user_id),
            "connectedAt": connection.connected_at,
            "sourceIp": connection.source_ip,
            "sessionId": connection.session_id or "",
            "tokenExpiresAt": connection.token_expires_at or "",
        },
    )
    pipe.expire(_conn_key(connection.connection_id), ttl)
    pipe.sadd(_user_key(connection.user_id), connection.connection_id)
    pipe.expire(_user_key(connection.user_id), ttl)
    pipe.scard(_user_key(connection.user_id))
    return pipe.execute()[-1] == 1


def get(connection_id: str) -> Connection | None:
    fields = get_redis().hgetall(_conn_key(connection_id))
    if not fields:
        return None
    return Connection.from_fields(connection_id, fields)


def remove(connection_id: str, user_id: uuid.UUID | None = None) -> tuple[uuid.UUID | None, bool]:
    """Forget a connection. Returns its user and whether that user has none left.

    Idempotent: removing an unknown connection returns (user_id or None, False).
    """
    redis = get_redis()
    if user_id is None:
        owner = redis.hget(_conn_key(connection_id), "userId")
        user_id = uuid.UUID(owner) if owner else None
    pipe = redis.pipeline()
    pipe.delete(_conn_key(connection_id))
    if user_id is not None:
        pipe.srem(_user_key(user_id), connection_id)
        pipe.scard(_user_key(user_id))
    results = pipe.execute()
    if user_id is None:
        return None, False
    removed, remaining = results[1], results[2]
    return user_id, bool(removed) and remaining == 0


def remove_if_established(
    connection_id: str, pushed_at: float
) -> tuple[uuid.UUID | None, bool] | None:
    """Forget a connection that answered 410 to a push made at `pushed_at`, unless
    it was still connecting then.

    API Gateway answers 410 for a connection whose $connect has not returned
    yet, so a 410 proves a connection gone only if it was established when
    the push was made: it had sent its first frame before, or was older than
    `connection_confirm_seconds` (longer than any $connect may take). A first
    frame that arrives between the 410 and this check proves the opposite.
    None when the connection was kept; otherwise what `remove` returns.
    """
    fields = get_redis().hmget(_conn_key(connection_id), ["userId", "connectedAt", "confirmedAt"])
    owner, connected_at, confirmed_at = fields
    if owner is None:
        return None, False
    connecting = pushed_at - float(connected_at or 0) < get_settings().connection_confirm_seconds
    confirmed_before = confirmed_at is not None and float(confirmed_at) <= pushed_at
    if connecting and not confirmed_before:
        return None
    return remove(connection_id, uuid.UUID(owner))


def of_users(user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
    """Every live connection id of each user (users with none are left out)."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return {}
    # Reads only: no MULTI/EXEC, which would answer every command twice.
    pipe = get_redis().pipeline(transaction=False)
    for user_id in ids:
        pipe.smembers(_user_key(user_id))
    return {user_id: conns for user_id, conns in zip(ids, pipe.execute(), strict=True) if conns}


def count(user_id: uuid.UUID) -> int:
    return get_redis().scard(_user_key(user_id))


# --- real-time additions: catch-up flag and keep-alive ------------------------
#
# A socket is not open until $connect returns, so nothing can be pushed to it
# from the connect handler. The connect handler raises a "catch-up due" flag
# instead; the first frame the connection sends claims it (atomically, so
# exactly one handler delivers what queued while the user was away).


def _catch_up_key(connection_id: str) -> str:
    return f"conn:{connection_id}:catchup"


def mark_catch_up_due(connection_id: str) -> None:
    get_redis().set(_catch_up_key(connection_id), "1", ex=get_settings().connection_ttl_seconds)


# Sets a field only on a hash that exists: a connection removed meanwhile
# must not come back as a hash holding that field alone.
_SET_IF_REGISTERED = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
end
return 0
"""


def claim(connection_id: str) -> tuple[Connection | None, bool]:
    """The connection (None when unknown) and whether its catch-up is due now.

    One round trip: the flag is deleted as it is read, so only one caller
    sees True. The first frame also confirms the connection (it is
    established: see `remove_if_established`), one round trip more, once.
    """
    redis = get_redis()
    pipe = redis.pipeline()
    pipe.hgetall(_conn_key(connection_id))
    pipe.delete(_catch_up_key(connection_id))
    fields, claimed = pipe.execute()
    if not fields:
        return None, False
    if "confirmedAt" not in fields:
        now = time.time()
        redis.eval(_SET_IF_REGISTERED, 1, _conn_key(connection_id), "confirmedAt", now)
        fields["confirmedAt"] = str(now)
    return Connection.from_fields(connection_id, fields), bool(claimed)


def refresh(connection_id: str, user_id: uuid.UUID) -> None:
    """Push the expiry of a live connection's keys forward (ping)."""
    ttl = get_settings().connection_ttl_seconds
    pipe = get_redis().pipeline()
    pipe.expire(_conn_key(connection_id), ttl)
    pipe.expire(_user_key(user_id), ttl)
    pipe.execute()


def ttl(connection_id: str) -> int:
    return get_redis().ttl(_conn_key(connection_id))


# --- sessions: which sign-in a connection belongs to ---------------------------


def renew(connection_id: str, session_id: str | None, token_expires_at: float) -> bool:
    """A fresh access token for a live connection; False when it is not registered."""
    # One step: a connection removed meanwhile must not come back as a stub.
    renewed = get_redis().eval(
        "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
        "redis.call('HSET', KEYS[1], 'sessionId', ARGV[1], 'tokenExpiresAt', ARGV[2]) "
        "return 1",
        1,
        _conn_key(connection_id),
        session_id or "",
        token_expires_at,
    )
    return bool(renewed)


def sessions_of(user_id: uuid.UUID) -> dict[str, str | None]:
    """Each live connection id of the user, with the sign-in it belongs to."""
    ids = sorted(get_redis().smembers(_user_key(user_id)))
    if not ids:
        return {}
    pipe = get_redis().pipeline(transaction=False)
    for connection_id in ids:
        pipe.hget(_conn_key(connection_id), "sessionId")
    return {cid: sid or None for cid, sid in zip(ids, pipe.execute(), strict=True)}


# --- fan-out in batches: which connections a frame already reached ------------

# Long enough for any retry of the fan-out function (its event source retries
# for minutes, not days).
_PUSHED_TTL_SECONDS = 24 * 3600


def _pushed_key(key: str) -> str:
    return f"pushed:{key}"


def already_pushed(key: str, connection_ids: Iterable[str]) -> set[str]:
    """Of these connections, those `record_pushed` recorded for `key`."""
    ids = list(connection_ids)
    if not ids:
        return set()
    found = get_redis().smismember(_pushed_key(key), ids)
    return {connection_id for connection_id, seen in zip(ids, found, strict=True) if seen}


def record_pushed(key: str, connection_ids: Iterable[str]) -> None:
    ids = list(connection_ids)
    if not ids:
        return
    pipe = get_redis().pipeline()
    pipe.sadd(_pushed_key(key), *ids)
    pipe.expire(_pushed_key(key), _PUSHED_TTL_SECONDS)
    pipe.execute()
