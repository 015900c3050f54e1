"""What the benchmarks share: percentiles, a flooding-friendly environment, a local stack."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def summary(samples: list[float]) -> dict[str, float]:
    """p50 and p99 of durations in seconds, in milliseconds."""
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000,
    }


def timed(n: int, step: Callable[[int], object], warmup: int = 20) -> dict[str, float]:
    """`summary` of `n` calls of `step(index)`, after `warmup` calls not counted."""
    for index in range(min(warmup, n)):
        step(index)
    samples = []
    for index in range(n):
        started = time.perf_counter()
        step(index)
        samples.append(time.perf_counter() - started)
    return summary(samples)


def flooding_environment() -> None:
    """Local AWS defaults, quiet logs, per-user limits lifted (a benchmark floods on purpose)."""
    from parley_dev.localenv import apply_local_defaults

    apply_local_defaults()
    os.environ["RATE_LIMIT_MESSAGES"] = "100000000"
    os.environ["RATE_LIMIT_ACTIONS"] = "100000000"
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    os.environ["LOG_LEVEL"] = "WARNING"


@contextmanager
def local_stack(topics: bool = True) -> Iterator[dict[str, str]]:
    """Embedded PostgreSQL (migrated), Redis, broker (topics made) and S3 in a temporary dir."""
    from parley_dev.localenv import ensure_jwt_secret
    from parley_dev.services import ensure_bucket, start_services

    with tempfile.TemporaryDirectory() as data_dir:
        ensure_jwt_secret(Path(data_dir))
        services = start_services(Path(data_dir))
        try:
            os.environ.update(services.env())
            from parley.db.migrate import upgrade

            upgrade()
            if topics:
                from parley.events.kafka import ensure_topics

                ensure_topics()
            ensure_bucket(services)
            yield services.env()
        finally:
            services.stop()


def report(results: dict[str, Any], out: str | None) -> None:
    """Print the results as JSON, and write them to `out` when given."""
    text = json.dumps(results, indent=2)
    if out:
        Path(out).write_text(text + "\n")
    print(text)
