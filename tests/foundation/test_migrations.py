"""The schema: Alembic migrations that go up and down and match the models."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from parley.db.migrate import downgrade, upgrade
from parley.db.models import Base

EXPECTED_TABLES = {
    "users",
    "refresh_tokens",
    "chats",
    "chat_members",
    "messages",
    "receipts",
    "outbox",
    "audit_log",
    "analytics_chat_daily",
    "analytics_user_daily",
    "analytics_read_samples",
    "notifications",
    "processed_events",
    "attachments",
    "message_attachments",
}


@pytest.fixture
def scratch_database(stack: dict[str, str]) -> Iterator[str]:
    url = make_url(stack["DATABASE_URL"])
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS parley_migrations")
        conn.execute("CREATE DATABASE parley_migrations")
    yield url.set(database="parley_migrations").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS parley_migrations WITH (FORCE)")


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_and_downgrade_removes_them(scratch_database: str) -> None:
    upgrade(scratch_database)
    assert _tables(scratch_database) >= EXPECTED_TABLES

    downgrade(scratch_database)
    assert _tables(scratch_database) == set()

    upgrade(scratch_database)
    assert _tables(scratch_database) >= EXPECTED_TABLES


def test_the_migrations_match_the_models(scratch_database: str) -> None:
    upgrade(scratch_database)
    engine = create_engine(scratch_database)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
