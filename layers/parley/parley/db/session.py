"""The engine, created on first use, and the unit of work.

A unit of work is what one invocation (a WebSocket frame, a REST request,
a consumer's batch) does with the database: it checks out one connection
and keeps it to the end, so that no invocation ever waits for a second
connection while it holds one (the pool cannot starve, whatever the
concurrency). On it run one transaction (the session), then, once that has
committed, the work deferred until after the commit in the order it was
deferred (pushes to live connections, caches), further short transactions
on the same connection if that work needs them, and last what the commits
owe the broker: their outbox events (`parley.events`), published after every
frame has left.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, make_url
from sqlalchemy.orm import Session

from parley.config import get_settings
from parley.db.bounded import bound_connections, connect_args
from parley.observability import logger
from parley.snapstart import holds_connections

_engine: Engine | None = None

# Events emitted in a session's open transaction (`parley.events.outbox.emit`):
# the unit of work writes them as it commits, then publishes them.
PENDING_EVENTS = "parley.events.pending"

# The unit of work running on this thread, when its entry made it ambient:
# `session_scope()` inside it then uses its connection instead of a second one.
_ambient: contextvars.ContextVar[UnitOfWork | None] = contextvars.ContextVar(
    "parley_unit_of_work", default=None
)


def database_url() -> str:
    """DATABASE_URL as it is, or the URL held by the DATABASE_SECRET_ARN secret."""
    settings = get_settings()
    if not settings.database_secret_arn:
        return settings.database_url
    url = _url_from_secret(_read_secret(settings.database_secret_arn))
    if settings.database_host:
        url = url.set(host=settings.database_host)
    return url.render_as_string(hide_password=False)


def _read_secret(secret_arn: str) -> str:
    # Powertools caches the value (5 minutes): one call per cold start at most.
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(secret_arn)


def _url_from_secret(value: str) -> URL:
    """A SQLAlchemy URL, JSON with "url", or the credentials JSON RDS writes."""
    value = value.strip()
    if not value.startswith("{"):
        return make_url(value)
    fields = json.loads(value)
    if "url" in fields:
        return make_url(fields["url"])
    missing = [key for key in ("username", "password", "host") if not fields.get(key)]
    if missing:
        # Name the keys, never the values: this ends up in the logs.
        raise ValueError(
            "the database secret holds neither a URL nor RDS credentials; "
            f"missing: {', '.join(missing)}"
        )
    return URL.create(
        "postgresql+psycopg",
        username=fields["username"],
        password=fields["password"],
        host=fields["host"],
        port=int(fields.get("port") or 5432),
        database=fields.get("dbname") or "postgres",
    )


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        settings = get_settings()
        _engine = create_engine(
            database_url(),
            # Each unit of work holds one connection at a time, so the pool
            # bounds the concurrency without ever deadlocking; on Lambda one
            # environment serves one invocation and RDS Proxy pools behind it.
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            pool_pre_ping=True,
            # A warm Lambda keeps its connection; RDS Proxy pools behind it.
            pool_recycle=300,
            # Fail fast when PostgreSQL stalls: see parley.db.bounded.
            pool_timeout=settings.database_pool_timeout_seconds,
            connect_args=connect_args(),
            # SQL parameters (message bodies) never reach an error or a log line.
            hide_parameters=True,
        )
        bound_connections(_engine)
    return _engine


@holds_connections
def reset_engine() -> None:
    """Drop the engine (tests, or after the settings changed)."""
    global _engine
    if _engine is not None:
        _engine.dispose()
    _engine = None


AfterCommit = Callable[[], None]


class UnitOfWork:
    """One connection, its transactions, what runs after they commit, and the pusher.

    `session` is the main transaction's session. `pusher` is opaque here
    (`parley.push.Pusher`, or None where nothing is pushed), and so are the
    domain's outcomes: `record` keeps them for the `notifier` the entry gave,
    which turns them into frames once the transaction has committed.
    """

    def __init__(
        self,
        connection: Connection,
        *,
        pusher: Any = None,
        notifier: Callable[[UnitOfWork, Any], None] | None = None,
        origin_connection: str | None = None,
    ) -> None:
        self.connection = connection
        self.pusher = pusher
        self.notifier = notifier
        # The WebSocket connection that acted: its ack tells it, no frame does.
        self.origin_connection = origin_connection
        self.session = self._new_session()
        self._outcomes: list[Any] = []
        self._after_commit: list[AfterCommit] = []
        self._publishing: Any = None
        # After-commit steps (and notifications) that raised: logged, counted.
        self.failures = 0
        self._in_transaction = False
        self._open_session = self.session

    def _new_session(self) -> Session:
        return Session(bind=self.connection, expire_on_commit=False)

    # --- what the domain and the entries call ---------------------------------

    def record(self, *outcomes: Any) -> None:
        """What happened, for the notifier, once the transaction has committed."""
        self._outcomes.extend(outcome for outcome in outcomes if outcome)

    def after_commit(self, step: AfterCommit) -> None:
        """Run `step` once the transaction has committed (caches, follow-ups).

        Steps run in order, after the outcomes have been notified; a failing
        step is logged and the others still run: the change is committed.
        """
        self._after_commit.append(step)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A further transaction on this unit's connection (after the main one committed)."""
        if self._in_transaction:
            raise RuntimeError("a unit of work runs one transaction at a time")
        session = self._new_session()
        with self._committing(session):
            yield session

    @contextmanager
    def step(self) -> Iterator[Session]:
        """The open transaction's session, or (once it is over) a further transaction."""
        if self._in_transaction:
            yield self._open_session
            return
        with self.transaction() as session:
            yield session

    @property
    def idle(self) -> bool:
        return not self._in_transaction

    # --- what `unit_of_work` runs ----------------------------------------------

    @contextmanager
    def _committing(self, session: Session) -> Iterator[None]:
        self._in_transaction = True
        self._open_session = session
        try:
            yield
            events = session.info.pop(PENDING_EVENTS, [])
            written = None
            if events:
                session.flush()
                written = self._publisher().write(session.connection(), events)
            session.commit()
            if written is not None:
                self._publisher().committed(written)
        except BaseException:
            session.rollback()
            raise
        finally:
            self._in_transaction = False
            session.close()

    def _finish(self) -> None:
        """After the commit: outcomes to frames, deferred steps, then the broker."""
        # Synchronous, on one thread: what runs here shares this unit's connection.
        token = _ambient.set(self)
        try:
            self._notify_and_follow_up()
        finally:
            _ambient.reset(token)

    def _notify_and_follow_up(self) -> None:
        done = 0
        # Notifying may record further outcomes (a delivery's status changes).
        while done < len(self._outcomes):
            outcome = self._outcomes[done]
            done += 1
            if self.notifier is not None:
                self._safely(lambda outcome=outcome: self.notifier(self, outcome))
        for step in self._after_commit:
            self._safely(step)
        if self._publishing is not None:
            self._publishing.finish(self.connection)

    def _publisher(self) -> Any:
        if self._publishing is None:
            # Imported here: the events package builds on this module.
            from parley.events.publisher import CommitPublishing

            self._publishing = CommitPublishing()
        return self._publishing

    def _safely(self, step: AfterCommit) -> None:
        # The change is committed: a failed push must not turn it into an error.
        try:
            step()
        except Exception:
            self.failures += 1
            logger.exception("after-commit step failed")


@contextmanager
def unit_of_work(
    *,
    pusher: Any = None,
    notifier: Callable[[UnitOfWork, Any], None] | None = None,
    origin_connection: str | None = None,
    ambient: bool = True,
) -> Iterator[UnitOfWork]:
    """One connection for the whole invocation: the transaction, then what follows it.

    The body is the transaction: it commits when the body returns and rolls
    back (and nothing after it runs) when it raises. `ambient`: nested
    `session_scope()` calls on this thread use this unit's connection; an
    entry whose body and exit may run on different threads (FastAPI's
    dependencies) passes False.
    """
    with get_engine().connect() as connection:
        work = UnitOfWork(
            connection, pusher=pusher, notifier=notifier, origin_connection=origin_connection
        )
        token = _ambient.set(work) if ambient else None
        try:
            with work._committing(work.session):
                yield work
            work._finish()
        finally:
            if token is not None:
                _ambient.reset(token)


@contextmanager
def session_scope() -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error; events published after.

    Inside an ambient unit of work whose transaction is over, it is one more
    transaction on that unit's connection (its events go out with the unit's).
    """
    current = _ambient.get()
    if current is not None and current.idle:
        with current.transaction() as session:
            yield session
        return
    with unit_of_work(ambient=False) as work:
        yield work.session


def current_unit() -> UnitOfWork | None:
    """The ambient unit of work on this thread, if any."""
    return _ambient.get()
