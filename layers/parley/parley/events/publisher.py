"""Producing outbox rows to Kafka: at once after commit, and for the relay.

The message key is the envelope key, the value the envelope JSON, and the
headers carry `type`, `version` and `id`, so a consumer can route or drop a
record without parsing it.

Publishing at commit is best effort and bounded: a broker that is down costs
one request at most `kafka_flush_timeout_seconds`, then commits skip
publishing for `outbox_publish_backoff_seconds` and the relay takes over.
It never raises: the change is committed, and its event is safe in the table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from parley.config import get_settings
from parley.events import outbox
from parley.events.envelope import Envelope
from parley.events.kafka import get_producer
from parley.observability import logger

# Rows that one commit publishes itself, older rows of its keys included;
# a key owing more than this is a backlog, left to the relay.
AT_COMMIT_CAP = 100

_paused_until = 0.0
# The producer that has had an acknowledgement already (a warm one).
_warm_producer: Producer | None = None


@dataclass
class Delivery:
    """What the broker acknowledged and what it did not, by outbox row id."""

    acked: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.failed


def headers_for(payload: dict) -> list[tuple[str, bytes]]:
    return [
        ("type", str(payload["type"]).encode()),
        ("version", str(payload["version"]).encode()),
        ("id", str(payload["id"]).encode()),
    ]


def produce(producer: Producer, rows: Sequence[outbox.OutboxRow], timeout: float) -> Delivery:
    """Produce rows in order and wait up to `timeout` for their acknowledgements.

    What is still queued at the deadline is purged (it fails here rather than
    reaching the broker behind the relay's copy) and counted as failed.
    """
    delivery = Delivery()

    def on_delivery(row_id: int):
        def report(error: KafkaError | None, _message: Message) -> None:
            if error is None:
                delivery.acked.append(row_id)
            else:
                delivery.failed[row_id] = str(error)

        return report

    for index, row in enumerate(rows):
        try:
            producer.produce(
                row.topic,
                key=row.key.encode(),
                value=json.dumps(row.payload, separators=(",", ":")).encode(),
                headers=headers_for(row.payload),
                on_delivery=on_delivery(row.id),
            )
        except (BufferError, KafkaException) as exc:
            # The local queue is full or the producer is unusable: the rest of
            # the rows wait, in order, for the next attempt.
            for rest in rows[index:]:
                delivery.failed[rest.id] = str(exc)
            break
    if producer.flush(timeout) > 0:
        producer.purge(in_queue=True, in_flight=False)
        producer.poll(0)
    answered = set(delivery.acked) | set(delivery.failed)
    for row in rows:
        if row.id not in answered:
            delivery.failed[row.id] = "no acknowledgement before the flush timeout"
    return delivery


def publish_committed(bind: Engine | Connection, envelopes: Sequence[Envelope]) -> Delivery | None:
    """Publish a just-committed transaction's events; never raises.

    `bind` is the unit of work's connection (not in a transaction), or an engine.

    Returns None when it left everything to the relay (paused after a failure,
    a backlog on one of the keys, or the database or broker answered an error).
    """
    global _paused_until, _warm_producer
    settings = get_settings()
    if time.monotonic() < _paused_until:
        return None
    producer = get_producer()
    timeout = (
        settings.kafka_flush_timeout_seconds
        if producer is _warm_producer
        else max(settings.kafka_flush_timeout_seconds, settings.kafka_first_flush_timeout_seconds)
    )
    try:
        with _connected(bind) as connection:
            rows = outbox.claim_for_keys(
                connection, [envelope.id for envelope in envelopes], AT_COMMIT_CAP
            )
            if not rows:
                connection.commit()
                return None
            delivery = produce(producer, rows, timeout)
            outbox.mark_published(connection, delivery.acked)
            outbox.mark_failed(connection, list(delivery.failed))
            connection.commit()
    except (KafkaException, SQLAlchemyError) as exc:
        logger.warning("publishing at commit failed; the relay will publish", exc_info=exc)
        _paused_until = time.monotonic() + settings.outbox_publish_backoff_seconds
        return None
    if delivery.acked:
        _warm_producer = producer
    if not delivery.complete:
        logger.warning(
            "broker did not acknowledge events at commit; the relay will publish them",
            extra={"failed": len(delivery.failed), "error": next(iter(delivery.failed.values()))},
        )
        _paused_until = time.monotonic() + settings.outbox_publish_backoff_seconds
    return delivery


@contextmanager
def _connected(bind: Engine | Connection) -> Iterator[Connection]:
    if isinstance(bind, Connection):
        try:
            yield bind
        except BaseException:
            bind.rollback()
            raise
        return
    with bind.connect() as connection:
        yield connection


def pause_publishing(seconds: float) -> None:
    """Leave commits' events to the relay for a while (as after a failed publish)."""
    global _paused_until
    _paused_until = time.monotonic() + seconds


def resume_publishing() -> None:
    """Forget a pause after a failure (tests; or once the broker is known to be back)."""
    global _paused_until
    _paused_until = 0.0


# The producer that has had an acknowledgement already (a warm one).
_warm_producer: Producer | None = None
