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

import contextlib
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
from parley.events.kafka import discard_producer, get_producer, is_fatal
from parley.observability import logger

# Rows that one commit publishes itself, older rows of its keys included;
# a key owing more than this is a backlog, left to the relay.
AT_COMMIT_CAP = 100

_paused_until = 0.0
# Rows handed to a producer that has not reported on them yet (a flush timed
# out with them on the wire), by row id, with that producer. They are not
# produced again while it may still deliver them: an outage would otherwise
# put one copy on the wire per relay run.
_in_flight: dict[int, Producer] = {}
# Rows whose acknowledgement arrived after their flush had given up.
_acked_late: set[int] = set()
# The producer that has had an acknowledgement already (a warm one).
_warm_producer: Producer | None = None


@dataclass
class Delivery:
    """What the broker acknowledged and what it did not, by outbox row id."""

    acked: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    # The producer answered an error it cannot recover from: it must be replaced.
    producer_failed: bool = False

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
    reaching the broker behind the relay's copy) and counted as failed; so is
    what was in flight. Failed rows are not marked published: they stay for
    the relay. A producer that answered a fatal error (fenced, out of
    sequence) is discarded, and the next call gets a fresh one.
    """
    delivery = Delivery()
    returned = False

    def on_delivery(row_id: int):
        def report(error: KafkaError | None, _message: Message) -> None:
            _in_flight.pop(row_id, None)
            if returned:  # a late report: the row is still unpublished in the table
                if error is None:
                    _acked_late.add(row_id)
                return
            if error is None:
                delivery.acked.append(row_id)
            else:
                delivery.failed[row_id] = str(error)
                delivery.producer_failed |= is_fatal(error)

        return report

    with contextlib.suppress(KafkaException):
        producer.poll(0)  # collect late reports first (a fatal error shows again below)
    if len(_acked_late) > 10_000:  # rows someone else published meanwhile
        _acked_late.clear()
    waiting_keys: set[str] = set()
    for index, row in enumerate(rows):
        if row.id in _acked_late:
            _acked_late.discard(row.id)
            delivery.acked.append(row.id)
            continue
        if _in_flight.get(row.id) is producer or row.key in waiting_keys:
            # Still on the wire from an earlier attempt; its key waits behind it.
            waiting_keys.add(row.key)
            delivery.failed[row.id] = "still in flight from an earlier attempt"
            continue
        try:
            producer.produce(
                row.topic,
                key=row.key.encode(),
                value=json.dumps(row.payload, separators=(",", ":")).encode(),
                headers=headers_for(row.payload),
                on_delivery=on_delivery(row.id),
            )
            _in_flight[row.id] = producer
        except (BufferError, KafkaException) as exc:
            # The local queue is full or the producer is unusable: the rest of
            # the rows wait, in order, for the next attempt.
            for rest in rows[index:]:
                delivery.failed[rest.id] = str(exc)
            if isinstance(exc, KafkaException) and isinstance(exc.args[0], KafkaError):
                delivery.producer_failed |= is_fatal(exc.args[0])
            break
    try:
        if producer.flush(timeout) > 0:
            producer.purge(in_queue=True, in_flight=False)
            producer.poll(0)
    except KafkaException as exc:
        # A fatal error surfaces here too; what had no report counts as failed below.
        error = exc.args[0]
        delivery.producer_failed |= not isinstance(error, KafkaError) or is_fatal(error)
    returned = True
    if delivery.producer_failed:
        discard_producer()
        for row_id in [i for i, p in _in_flight.items() if p is producer]:
            del _in_flight[row_id]
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
