"""Which failures mean "a backing service is away", and what to tell the caller.

A stalled or restarting PostgreSQL or Redis surfaces as a driver error after
the client-side timeouts (see `parley.db.bounded` and `parley.stores.client`).
Both entries turn these into `Unavailable`: `unavailable` on the WebSocket,
503 over REST, with the service named, instead of `internal`/500.
"""

from __future__ import annotations

from psycopg import errors as pg_errors
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

from parley.protocol.errors import Unavailable

POSTGRES = "PostgreSQL is not answering; try again shortly"
POSTGRES_POOL = "PostgreSQL is busy or not answering (no connection in time); try again shortly"
CONFLICT = "the database gave up on the change (a concurrent conflict); try again"
REDIS = "Redis is not answering; try again shortly"


def unavailable_from(error: BaseException) -> Unavailable | None:
    """An `Unavailable` when `error` (or what caused it) is a service being away."""
    seen = 0
    current: BaseException | None = error
    while current is not None and seen < 5:
        if isinstance(current, Unavailable):
            return current
        if isinstance(current, sa_errors.TimeoutError):
            return Unavailable(POSTGRES_POOL)
        if isinstance(current, sa_errors.OperationalError) and isinstance(
            current.orig, pg_errors.SerializationFailure | pg_errors.DeadlockDetected
        ):
            return Unavailable(CONFLICT)
        if isinstance(current, sa_errors.OperationalError | sa_errors.InterfaceError) or (
            isinstance(current, sa_errors.DBAPIError) and current.connection_invalidated
        ):
            return Unavailable(POSTGRES)
        if isinstance(current, redis_errors.ConnectionError | redis_errors.TimeoutError):
            return Unavailable(REDIS)
        current = current.__cause__ or current.__context__
        seen += 1
    return None
