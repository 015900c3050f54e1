"""The relay: publishes what commits left in the outbox, oldest first.

Run on a schedule (every minute on AWS, every few seconds locally). Rows are
claimed with `FOR UPDATE SKIP LOCKED`, so two relays (or a relay and a
commit publishing its own rows) never publish the same row at once, and a
key with an older row held elsewhere waits: each key stays in order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine

from parley.config import get_settings
from parley.db import get_engine
from parley.events import outbox
from parley.events.kafka import get_producer
from parley.events.publisher import produce
from parley.observability import logger


@dataclass
class RelayResult:
    published: int = 0
    failed: int = 0
    batches: int = 0
    remaining: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "published": self.published,
            "failed": self.failed,
            "batches": self.batches,
            "remaining": self.remaining,
        }


def relay(
    engine: Engine | None = None,
    *,
    batch_size: int | None = None,
    max_seconds: float | None = None,
) -> RelayResult:
    """Publish unpublished rows batch by batch until none is left, a batch
    fails (the broker is still away: the next run retries) or time is up."""
    settings = get_settings()
    engine = engine or get_engine()
    batch_size = batch_size or settings.relay_batch_size
    deadline = time.monotonic() + (max_seconds or settings.relay_max_seconds)
    producer = get_producer()
    result = RelayResult()
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            rows = outbox.claim_oldest(connection, batch_size)
            if not rows:
                connection.commit()
                break
            delivery = produce(producer, rows, settings.relay_flush_timeout_seconds)
            outbox.mark_published(connection, delivery.acked)
            outbox.mark_failed(connection, list(delivery.failed))
            connection.commit()
        result.batches += 1
        result.published += len(delivery.acked)
        result.failed += len(delivery.failed)
        if not delivery.complete:
            logger.warning(
                "relay batch not fully acknowledged; stopping until the next run",
                extra={"failed": len(delivery.failed)},
            )
            break
    with engine.connect() as connection:
        result.remaining = outbox.unpublished_count(connection)
    logger.info("relay run", extra=result.as_dict())
    return result


@logger.inject_lambda_context
def handler(_event: dict, _context: object) -> dict[str, int]:
    return relay().as_dict()
