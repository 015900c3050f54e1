"""The engine, created on first use, and the unit of work."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import URL, Engine, create_engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from parley.config import get_settings
from parley.db.bounded import bound_connections, connect_args
from parley.snapstart import holds_connections

_engine: Engine | None = None
_sessionmaker: sessionmaker[Session] | None = None


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
    global _engine, _sessionmaker
    if _engine is None:
        settings = get_settings()
        _engine = create_engine(
            database_url(),
            pool_size=settings.database_pool_size,
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
        _sessionmaker = sessionmaker(_engine, expire_on_commit=False)
    return _engine


@holds_connections
def reset_engine() -> None:
    """Drop the engine (tests, or after the settings changed)."""
    global _engine, _sessionmaker
    if _engine is not None:
        _engine.dispose()
    _engine = None
    _sessionmaker = None


@contextmanager
def session_scope() -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    get_engine()
    assert _sessionmaker is not None
    session = _sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
