"""PostgreSQL connections that never wait forever.

libpq has no read timeout: a server that stops answering (stalled, paused,
a network path gone quiet while the kernel still acknowledges) keeps a
blocking query waiting for as long as the stall lasts, and the worker with
it. psycopg waits on the socket itself, with a timeout we can set: every
wait of a `BoundedConnection` (a statement, a commit, a rollback, the pool's
ping) gives up after `database_statement_timeout_seconds`. The connection
is then closed (its protocol state is unknown) and `OperationalError` raised,
which SQLAlchemy takes as a disconnect: the pool drops that connection, and
the caller answers `unavailable`. Connecting is bounded by libpq's
`connect_timeout`; waiting for a pooled connection by the pool's timeout.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors
from sqlalchemy import Engine, event

from parley.config import get_settings

_WAIT_INTERVAL = 0.1


class BoundedConnection(psycopg.Connection):
    wait_timeout: float | None = None

    def wait(self, gen: Any, interval: float = _WAIT_INTERVAL, timeout: float | None = None) -> Any:
        bound = timeout if timeout is not None else self.wait_timeout
        try:
            return super().wait(gen, interval, bound)
        except errors._WaitTimeout as exc:
            self.pgconn.finish()
            raise psycopg.OperationalError(f"PostgreSQL did not answer within {bound:g} s") from exc


def bound_connections(engine: Engine) -> None:
    """Make every connection `engine` opens a `BoundedConnection`."""
    wait_timeout = get_settings().database_statement_timeout_seconds

    @event.listens_for(engine, "do_connect")
    def connect(_dialect: Any, _record: Any, cargs: tuple, cparams: dict) -> psycopg.Connection:
        connection = BoundedConnection.connect(*cargs, **cparams)
        connection.wait_timeout = wait_timeout
        return connection


def connect_args() -> dict[str, Any]:
    # libpq wants whole seconds, at least 2.
    return {"connect_timeout": max(2, round(get_settings().database_connect_timeout_seconds))}
