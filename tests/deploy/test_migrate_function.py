"""The migrate function: Alembic upgrade as a custom resource that always answers CloudFormation."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import inspect, text

from tests.deploy.conftest import custom_resource_event


@pytest.fixture(scope="module")
def migrate_function() -> Callable[[dict, Any], Any]:
    from parley_dev.cli import load_function

    return load_function("migrate")


@pytest.fixture
def context():
    from parley_dev.cli import lambda_context

    return lambda_context("migrate")


@pytest.fixture
def empty_database(stack):
    """The schema dropped for the test, and back at head afterwards whatever happened."""
    from parley.db import get_engine, reset_engine
    from parley.db.migrate import downgrade, upgrade

    reset_engine()
    downgrade()
    yield get_engine()
    reset_engine()
    upgrade()


def head_revision() -> str:
    from parley.db.migrate import current_heads

    return ",".join(current_heads())


def stored_revision(engine) -> str | None:
    """The revision Alembic recorded; None for a database at base."""
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as connection:
        query = text("select version_num from alembic_version")
        return connection.execute(query).scalar_one_or_none()


def test_create_migrates_to_head_and_answers_success_with_the_revision(
    migrate_function, context, cloudformation, empty_database
):
    event = custom_resource_event("Create", cloudformation.url)

    migrate_function(event, context)

    answer = cloudformation.only()
    assert answer["Status"] == "SUCCESS"
    assert answer["Data"] == {"Revision": head_revision()}
    assert answer["PhysicalResourceId"] == "parley-database-schema"
    assert (answer["StackId"], answer["RequestId"], answer["LogicalResourceId"]) == (
        event["StackId"],
        event["RequestId"],
        "DatabaseMigration",
    )
    assert stored_revision(empty_database) == head_revision()
    assert inspect(empty_database).has_table("messages")


def test_update_migrates_and_keeps_the_physical_resource_id(
    migrate_function, context, cloudformation, empty_database
):
    event = custom_resource_event("Update", cloudformation.url)
    event["PhysicalResourceId"] = "parley-database-schema-from-an-earlier-deploy"

    migrate_function(event, context)

    answer = cloudformation.only()
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "parley-database-schema-from-an-earlier-deploy"
    assert stored_revision(empty_database) == head_revision()


def test_delete_answers_success_and_leaves_the_database_alone(
    migrate_function, context, cloudformation, empty_database
):
    migrate_function(custom_resource_event("Delete", cloudformation.url), context)

    assert cloudformation.only()["Status"] == "SUCCESS"
    assert stored_revision(empty_database) is None
    assert not inspect(empty_database).has_table("messages")


def test_the_answer_carries_no_content_type_the_presigned_url_was_not_signed_for(
    migrate_function, context, cloudformation
):
    migrate_function(custom_resource_event("Delete", cloudformation.url), context)

    assert cloudformation.content_types in ([""], [None])


def test_a_failing_migration_answers_failed_with_the_reason(
    migrate_function, context, cloudformation, settings_from_env
):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings_from_env.setenv("DATABASE_URL", f"postgresql+psycopg://parley@127.0.0.1:{port}/x")

    migrate_function(custom_resource_event("Create", cloudformation.url), context)

    answer = cloudformation.only()
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("OperationalError")
    assert len(answer["Reason"]) <= 1000


def test_a_migration_about_to_time_out_answers_failed_before_lambda_stops_it(
    migrate_function, cloudformation, settings_from_env
):
    from parley_dev.cli import lambda_context

    # A server that accepts and says nothing: the migration hangs until it hangs up.
    silent = socket.create_server(("127.0.0.1", 0))
    hang_up = threading.Timer(3, silent.close)
    hang_up.start()
    settings_from_env.setenv(
        "DATABASE_URL", f"postgresql+psycopg://parley@127.0.0.1:{silent.getsockname()[1]}/x"
    )
    # Only the margin is left: the watchdog answers at once.
    context = dataclasses.replace(lambda_context("migrate"), timeout_seconds=10)

    try:
        migrate_function(custom_resource_event("Create", cloudformation.url), context)
    finally:
        hang_up.cancel()
        silent.close()

    answer = cloudformation.only()
    assert (answer["Status"], answer["Reason"]) == ("FAILED", "migration timed out")


def test_invoked_directly_it_migrates_and_returns_the_revision(
    migrate_function, context, empty_database
):
    result = migrate_function({}, context)

    assert result == {"status": "migrated", "revision": head_revision()}
    assert stored_revision(empty_database) == head_revision()
