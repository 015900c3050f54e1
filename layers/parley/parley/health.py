"""The state of each backing service, with its latency.

The three probes run at once and the answer never waits more than
`health_timeout_seconds`: a service that has not answered by then is down
("no answer within 2 s"), whatever its probe is still waiting on (the
probe itself gives up at the client timeouts, see `parley.db.bounded`).

Kafka is down when no broker answers its metadata request, and also when
the oldest unpublished outbox row is older than
`health_outbox_max_age_seconds`: a broker that answers metadata but takes
no events (a failing producer, a partition without a leader) shows there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from parley.config import get_settings

_probes = ThreadPoolExecutor(max_workers=16, thread_name_prefix="parley-health")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    latency_ms: float
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _timed(name: str, probe: Callable[[dict[str, Any]], None]) -> Check:
    started = time.perf_counter()
    details: dict[str, Any] = {}
    try:
        probe(details)
    except Exception as exc:  # any failure means "down"; the reason is reported
        return Check(name, False, _ms(started), f"{type(exc).__name__}: {exc}"[:200], details)
    return Check(name, True, _ms(started), None, details)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _postgres(_details: dict[str, Any]) -> None:
    from parley.db import get_engine

    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))


def _redis(_details: dict[str, Any]) -> None:
    from parley.stores.client import get_redis

    get_redis().ping()


def _kafka(_details: dict[str, Any]) -> None:
    from confluent_kafka.admin import AdminClient

    from parley.events.kafka import client_config

    timeout = get_settings().health_timeout_seconds
    metadata = AdminClient(client_config()).list_topics(timeout=timeout)
    if not metadata.brokers:
        raise ConnectionError("no broker in metadata")


def _publishing(check: Check, age: float | None) -> Check:
    """The Kafka check, degraded when the outbox shows events are not going out."""
    if age is None:
        return check
    bound = get_settings().health_outbox_max_age_seconds
    details = {**check.details, "oldestUnpublishedSeconds": round(age, 1)}
    if check.ok and age > bound:
        error = (
            f"events are not being published: the oldest unpublished event is {age:.0f} s old "
            f"(bound {bound:g} s)"
        )
        return Check(check.name, False, check.latency_ms, error, details)
    return Check(check.name, check.ok, check.latency_ms, check.error, details)


def _oldest_unpublished_age() -> float | None:
    """Seconds since the oldest unpublished outbox row was written; None when
    there is none, or PostgreSQL cannot tell (its own check says so)."""
    from parley.db import get_engine
    from parley.events.outbox import oldest_unpublished_age

    try:
        with get_engine().connect() as connection:
            return oldest_unpublished_age(connection)
    except Exception:
        return None


PROBES: dict[str, Callable[[dict[str, Any]], None]] = {
    "postgres": _postgres,
    "redis": _redis,
    "kafka": _kafka,
}


def check_all() -> list[Check]:
    timeout = get_settings().health_timeout_seconds
    started = time.perf_counter()
    futures = {name: _probes.submit(_timed, name, probe) for name, probe in PROBES.items()}
    outbox_age = _probes.submit(_oldest_unpublished_age)
    wait([*futures.values(), outbox_age], timeout=timeout)
    checks = []
    for name, future in futures.items():
        if future.done():
            checks.append(future.result())
        else:
            checks.append(Check(name, False, _ms(started), f"no answer within {timeout:g} s"))
    if outbox_age.done():
        checks = [
            _publishing(check, outbox_age.result()) if check.name == "kafka" else check
            for check in checks
        ]
    return checks
