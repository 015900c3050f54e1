"""The suite's stack: real PostgreSQL, Redis, a Kafka-protocol broker and S3 (moto's server).

Each is embedded (fresh, in .parley/test) unless its variable points at a
server already, exactly as `make run` decides.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clients import reset_clients

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA_DIR = ROOT / ".parley" / "test"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: the slowest, and the rest gives faster feedback."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def stack() -> Iterator[dict[str, str]]:
    from parley_dev.localenv import apply_local_defaults
    from parley_dev.services import ensure_bucket, start_services

    apply_local_defaults()
    # Argon2id at its production cost would spend most of the suite hashing;
    # the algorithm is the same, only its work factors are lowered.
    os.environ.setdefault("PASSWORD_HASH_TIME_COST", "1")
    os.environ.setdefault("PASSWORD_HASH_MEMORY_KIB", "8192")
    os.environ.setdefault("PASSWORD_HASH_PARALLELISM", "1")
    os.environ.setdefault("JWT_SECRET", secrets.token_urlsafe(48))
    shutil.rmtree(TEST_DATA_DIR, ignore_errors=True)
    services = start_services(TEST_DATA_DIR)
    os.environ.update(services.env())
    reset_clients()

    from parley.db.migrate import upgrade
    from parley.events.kafka import ensure_topics

    upgrade()
    ensure_topics()
    ensure_bucket(services)
    try:
        yield services.env()
    finally:
        reset_clients()
        services.stop()


@pytest.fixture(autouse=True)
def clean_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts with empty tables and an empty Redis; a `unit` test needs neither."""
    if request.node.get_closest_marker("unit") is not None:
        yield
        return
    request.getfixturevalue("stack")
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from parley.db import get_engine
    from parley.db.models import Base
    from parley.stores.client import get_redis

    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    # The previous test's clients may still be settling (a $disconnect, a
    # publish after commit); TRUNCATE then loses a deadlock now and then.
    for attempt in range(5):
        try:
            with get_engine().begin() as connection:
                connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            break
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.2)
    get_redis().flushdb()
    yield


@pytest.fixture(scope="session")
def gateway_server(stack: dict[str, str]) -> Iterator[object]:
    """The dev gateway over the real template.yaml, on a free port."""
    from parley.config import get_settings
    from parley_dev.gateway import GatewayOptions, GatewayServer, create_app

    # Consumers and the relay schedule stay off here: between tests the
    # tables are truncated under them. Their wiring through the gateway is
    # tested in tests/gateway; the consumers themselves in tests/events_pipeline.
    # One environment per function is started ahead (provisioned concurrency),
    # so tests measure behaviour, not the imports of cold starts.
    options = GatewayOptions(
        run_event_sources=False, run_schedules=False, provisioned_environments=1
    )
    app = create_app(ROOT / "template.yaml", options=options, web_dir=ROOT / "web")
    server = GatewayServer(app)
    # REST pushes frames through this gateway's @connections, as `parley-dev up` sets it.
    os.environ["WEBSOCKET_CONNECTIONS_URL"] = f"{server.url}/ws"
    get_settings.cache_clear()
    try:
        with server:
            server.gateway.runner.wait_provisioned(timeout=600)
            yield server
    finally:
        os.environ.pop("WEBSOCKET_CONNECTIONS_URL", None)
        get_settings.cache_clear()


@pytest.fixture(scope="session")
def gateway_url(gateway_server) -> str:
    """Base URL of the running stack: `/` web, `/api` REST, `/ws` WebSocket."""
    return gateway_server.url
