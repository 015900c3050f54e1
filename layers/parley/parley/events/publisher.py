"""Producing outbox rows to Kafka: as a unit of work commits, and for the relay.

The message key is the envelope key, the value the envelope JSON, and the
headers carry `type`, `version` and `id`, so a consumer can route or drop a
record without parsing it.

Publishing at commit (`CommitPublishing`, one per unit of work) is best
effort and bounded. A committed event whose key owes nothing older goes to
the producer at once, from memory: no claim, no lock, so the broker's round
trip overlaps the frames and the rest of the invocation, and only the end of
the unit waits for the acknowledgements, then marks the rows published in one
statement. An event whose stream (its topic and key: what Kafka keeps in
order) has older unpublished rows takes the careful path instead: it claims
them with `FOR UPDATE SKIP LOCKED` and publishes them in order, or leaves
them to the relay. A broker that is down costs one unit at
most `kafka_flush_timeout_seconds`; then commits skip publishing for
`outbox_publish_backoff_seconds` and the relay takes over. Nothing here
raises: the change is committed, and its event is safe in the table.

Rows are identified by their event id everywhere here. A row published at
commit is not locked while it is on the wire, so a relay or another commit
may publish it too: the copy carries the same id (consumers are idempotent on
it), and a stream's order holds, since whoever publishes a row publishes every
older unpublished row of its stream first.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from parley.config import get_settings
from parley.events import outbox
from parley.events.kafka import discard_producer, get_producer, is_fatal
from parley.observability import logger

# Rows that one commit publishes itself, older rows of its streams included;
# a stream owing more than this is a backlog, left to the relay.
AT_COMMIT_CAP = 100

_paused_until = 0.0
# Rows handed to a producer that has not reported on them yet (a flush timed
# out with them on the wire), by event id (as text: see `send`), with that producer. They are not
# produced again while it may still deliver them: an outage would otherwise
# put one copy on the wire per relay run.
_in_flight: dict[str, Producer] = {}
# Rows whose acknowledgement arrived after their flush had given up.
_acked_late: set[str] = set()
# The producer that has had an acknowledgement already (a warm one).
_warm_producer: Producer | None = None


@dataclass
class Delivery:
    """What the broker acknowledged and what it did not, by event id (as text)."""

    acked: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    # The producer answered an error it cannot recover from: it must be replaced.
    producer_failed: bool = False
    # Set once the caller stopped waiting: later reports go to `_acked_late`.
    closed: bool = False

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
    send(producer, rows, delivery)
    wait(producer, rows, delivery, timeout)
    return delivery


def send(producer: Producer, rows: Sequence[outbox.OutboxRow], delivery: Delivery) -> None:
    """Hand rows to the producer, in order, without waiting for the broker.

    Event ids are handled as text here: librdkafka runs the reports inside
    flush(), and after a fatal error it may run one with a Python error still
    pending, which anything hashed in Python code (a UUID) turns into a
    SystemError.
    """

    def on_delivery(event_id: str):
        def report(error: KafkaError | None, _message: Message) -> None:
            _in_flight.pop(event_id, None)
            if delivery.closed:  # a late report: the row is still unpublished in the table
                if error is None:
                    _acked_late.add(event_id)
                return
            if error is None:
                delivery.acked.append(event_id)
            else:
                delivery.failed[event_id] = str(error)
                delivery.producer_failed |= is_fatal(error)

        return report

    with contextlib.suppress(KafkaException):
        producer.poll(0)  # collect late reports first (a fatal error shows again below)
    if len(_acked_late) > 10_000:  # rows someone else published meanwhile
        _acked_late.clear()
    waiting: set[outbox.Stream] = set()
    for index, row in enumerate(rows):
        event_id = str(row.event_id)
        if event_id in _acked_late:
            _acked_late.discard(event_id)
            delivery.acked.append(event_id)
            continue
        stream = outbox.stream_of(row)
        if _in_flight.get(event_id) is producer or stream in waiting:
            # Still on the wire from an earlier attempt; its stream waits behind it.
            waiting.add(stream)
            delivery.failed[event_id] = "still in flight from an earlier attempt"
            continue
        try:
            producer.produce(
                row.topic,
                key=row.key.encode(),
                value=json.dumps(row.payload, separators=(",", ":")).encode(),
                headers=headers_for(row.payload),
                on_delivery=on_delivery(event_id),
            )
            _in_flight[event_id] = producer
        except (BufferError, KafkaException) as exc:
            # The local queue is full or the producer is unusable: the rest of
            # the rows wait, in order, for the next attempt.
            for rest in rows[index:]:
                delivery.failed[str(rest.event_id)] = str(exc)
            if isinstance(exc, KafkaException) and isinstance(exc.args[0], KafkaError):
                delivery.producer_failed |= is_fatal(exc.args[0])
            break


def wait(
    producer: Producer, rows: Sequence[outbox.OutboxRow], delivery: Delivery, timeout: float
) -> None:
    """Wait up to `timeout` for the reports on `rows`; what has none by then failed."""
    try:
        if producer.flush(timeout) > 0:
            producer.purge(in_queue=True, in_flight=False)
            producer.poll(0)
    except KafkaException as exc:
        # A fatal error surfaces here too; what had no report counts as failed below.
        error = exc.args[0]
        delivery.producer_failed |= not isinstance(error, KafkaError) or is_fatal(error)
    delivery.closed = True
    if delivery.producer_failed:
        discard_producer()
        for event_id in [i for i, p in _in_flight.items() if p is producer]:
            del _in_flight[event_id]
    answered = set(delivery.acked) | set(delivery.failed)
    for row in rows:
        if str(row.event_id) not in answered:
            delivery.failed[str(row.event_id)] = "no acknowledgement before the flush timeout"


def _flush_timeout(producer: Producer) -> float:
    settings = get_settings()
    if producer is _warm_producer:
        return settings.kafka_flush_timeout_seconds
    return max(settings.kafka_flush_timeout_seconds, settings.kafka_first_flush_timeout_seconds)


def _settle(delivery: Delivery, producer: Producer) -> None:
    """After a publish at commit: remember a warm producer, or pause after a failure."""
    global _paused_until, _warm_producer
    if delivery.acked:
        _warm_producer = producer
    if not delivery.complete:
        logger.warning(
            "broker did not acknowledge events at commit; the relay will publish them",
            extra={"failed": len(delivery.failed), "error": next(iter(delivery.failed.values()))},
        )
        _paused_until = time.monotonic() + get_settings().outbox_publish_backoff_seconds


def publishing_paused() -> bool:
    return time.monotonic() < _paused_until


def _pause_after(exc: Exception) -> None:
    global _paused_until
    logger.warning("publishing at commit failed; the relay will publish", exc_info=exc)
    _paused_until = time.monotonic() + get_settings().outbox_publish_backoff_seconds


class Written(NamedTuple):
    rows: list[outbox.OutboxRow]
    owing: set[outbox.Stream] | None


class CommitPublishing:
    """What one unit of work owes the broker, from its first commit to its end.

    `committed` runs as each of the unit's transactions commits; `finish`,
    once, at the end of the unit, after every frame has left.
    """

    def __init__(self) -> None:
        self._producer: Producer | None = None
        self._sent: list[outbox.OutboxRow] = []
        self._delivery = Delivery()
        self._backlogged: list[uuid.UUID] = []
        self._first_row: int | None = None

    def write(self, connection: Connection, events: Sequence[outbox.PendingEvent]) -> Written:
        """In the committing transaction: the events' rows, and the streams that owe
        unpublished rows older than this unit's first (None: leave them all to
        the relay, publishing is paused).

        Only rows older than the unit's first are owed first: newer ones are
        the unit's own (on the wire already) or were written concurrently with it.
        """
        rows, owing = outbox.write(connection, events, owed_before=self._first_row)
        first_row = min(row.id for row in rows)
        if self._first_row is None or first_row < self._first_row:
            self._first_row = first_row
        return Written(rows, None if publishing_paused() else owing)

    def committed(self, written: Written) -> None:
        """Produce what just committed; a stream that owes older rows waits for `finish`."""
        rows, owing = written
        if owing is None or publishing_paused():
            return  # the relay's
        ready = [row for row in rows if outbox.stream_of(row) not in owing]
        self._backlogged.extend(row.event_id for row in rows if outbox.stream_of(row) in owing)
        if not ready:
            return
        try:
            if self._producer is None:
                self._producer = get_producer()
            send(self._producer, ready, self._delivery)
            self._sent.extend(ready)
        except KafkaException as exc:
            _pause_after(exc)

    def finish(self, connection: Connection) -> None:
        """Wait for the acknowledgements, mark the rows, then publish the backlogged streams."""
        if self._sent and self._producer is not None:
            self._delivery_settled(connection)
        if self._backlogged and not publishing_paused():
            publish_committed(connection, self._backlogged)

    def _delivery_settled(self, connection: Connection) -> None:
        producer, delivery = self._producer, self._delivery
        wait(producer, self._sent, delivery, _flush_timeout(producer))
        try:
            with _connected(connection) as bound:
                outbox.mark_published(bound, delivery.acked)
                outbox.mark_failed(bound, list(delivery.failed))
                bound.commit()
        except SQLAlchemyError as exc:
            # Published but not marked: the relay publishes them again (same ids).
            _pause_after(exc)
            return
        _settle(delivery, producer)


def publish_committed(bind: Engine | Connection, event_ids: Sequence[uuid.UUID]) -> Delivery | None:
    """Publish just-committed events, each after the older unpublished rows of its stream.

    Never raises.

    `bind` is the unit of work's connection (not in a transaction), or an engine.

    Returns None when it left everything to the relay (paused after a failure,
    a backlog on one of the streams, or the database or broker answered an error).
    """
    if publishing_paused():
        return None
    producer = get_producer()
    timeout = _flush_timeout(producer)
    try:
        with _connected(bind) as connection:
            rows = outbox.claim_for_keys(connection, event_ids, AT_COMMIT_CAP)
            if not rows:
                connection.commit()
                return None
            delivery = produce(producer, rows, timeout)
            outbox.mark_published(connection, delivery.acked)
            outbox.mark_failed(connection, list(delivery.failed))
            connection.commit()
    except (KafkaException, SQLAlchemyError) as exc:
        _pause_after(exc)
        return None
    _settle(delivery, producer)
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
