"""The state of each backing service, with its latency."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    latency_ms: float
    error: str | None = None


def _timed(name: str, probe: Callable[[], object]) -> Check:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # any failure means "down"; the reason is reported
        return Check(name, False, _ms(started), f"{type(exc).__name__}: {exc}"[:200])
    return Check(name, True, _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _postgres() -> None:
    from parley.db import get_engine

    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))


def _redis() -> None:
    from parley.stores.client import get_redis

    get_redis().ping()


def _kafka() -> None:
    from confluent_kafka.admin import AdminClient

    from parley.events.kafka import client_config

    metadata = AdminClient(client_config()).list_topics(timeout=2)
    if not metadata.brokers:
        raise ConnectionError("no broker in metadata")


def check_all() -> list[Check]:
    return [_timed("postgres", _postgres), _timed("redis", _redis), _timed("kafka", _kafka)]
