"""What every consumer shares: decoding, idempotency, retries and dead letters.

A record's effect and its `processed_events` row commit in one transaction,
so a record delivered twice has its effect once. A consumer whose effects
stay in the database takes a whole batch in one transaction (one commit and
one publish for up to a hundred records, instead of one each); when anything
in it fails, the batch is rolled back and goes again record by record, each
in its own transaction. A record that still fails after
`consumer_max_retries` attempts goes to `system.deadletter` with the error,
and the batch goes on.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.kafka import ConsumerRecords, SchemaConfig, kafka_consumer
from aws_lambda_powertools.utilities.kafka.consumer_records import ConsumerRecordRecords
from aws_lambda_powertools.utilities.typing import LambdaContext
from sqlalchemy import text
from sqlalchemy.orm import Session

from parley.config import get_settings
from parley.db import session_scope
from parley.db.arrays import uuid_array
from parley.events import catalog
from parley.events.envelope import Envelope
from parley.events.models import DeadLetter
from parley.events.outbox import emit
from parley.observability import logger

Apply = Callable[[Session | None, Envelope], None]

# Values are envelope JSON; keys stay plain text (the default deserializer).
ENVELOPE_JSON = SchemaConfig(value_schema_type="JSON")


@dataclass(frozen=True)
class Consumer:
    """One consumer: its name (the idempotency namespace) and what it does per event."""

    name: str
    topics: frozenset[str]
    apply: Apply
    # `apply` opens units of work of its own (it pushes to live connections,
    # batch by batch) and is idempotent by itself: it gets no session, and no
    # `processed_events` row is written for it.
    own_units: bool = False
    # Records of a batch share one transaction. Only for a consumer whose
    # every effect is in that transaction: after a failure the batch goes
    # again record by record, so an effect outside it would happen twice.
    whole_batches: bool = False
    # Runs in each transaction once its records are applied: what a
    # consumer owes once per transaction rather than once per record.
    settle: Callable[[Session], None] | None = None
    # Asked before any transaction is opened: an event it answers False for
    # has nothing to do now, and leaves no trace (no `processed_events` row;
    # delivered again, it is asked again).
    has_work: Callable[[Envelope], bool] | None = None


@dataclass
class BatchResult:
    processed: int = 0
    duplicates: int = 0
    ignored: int = 0
    dead_lettered: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "processed": self.processed,
            "duplicates": self.duplicates,
            "ignored": self.ignored,
            "deadLettered": self.dead_lettered,
        }


# One statement of a fixed text for any number of events: a multi-row VALUES
# would be compiled anew for each batch size, parameter by parameter.
_CLAIM = text(
    """
    INSERT INTO processed_events (consumer, event_id)
    SELECT :consumer, event_id FROM unnest(CAST(:event_ids AS uuid[])) AS event_id
    ON CONFLICT DO NOTHING
    RETURNING event_id
    """
)


def claim_all(session: Session, consumer: str, event_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Record that `consumer` handles these events in this transaction; those it had not yet."""
    if not event_ids:
        return set()
    return set(
        session.scalars(
            _CLAIM, {"consumer": consumer, "event_ids": uuid_array(dict.fromkeys(event_ids))}
        )
    )


def apply_in_one_transaction(consumer: Consumer, envelopes: list[Envelope]) -> tuple[int, int]:
    """Claim, apply and settle `envelopes` in one transaction: (applied, duplicates)."""
    applied = duplicates = 0
    with session_scope() as session:
        fresh = claim_all(session, consumer.name, [envelope.id for envelope in envelopes])
        for envelope in envelopes:
            if envelope.id not in fresh:
                duplicates += 1
                continue
            fresh.discard(envelope.id)  # a second copy in the same batch is a duplicate
            consumer.apply(session, envelope)
            applied += 1
        if consumer.settle is not None:
            consumer.settle(session)
    return applied, duplicates


def handle_record(consumer: Consumer, record: ConsumerRecordRecords, result: BatchResult) -> None:
    attempts = get_settings().consumer_max_retries
    error: Exception | None = None
    envelope: Envelope | None = None
    for _attempt in range(max(1, attempts)):
        try:
            envelope = Envelope.model_validate(record.value)
            if envelope.type not in consumer.topics:
                result.ignored += 1
                return
            if consumer.has_work is not None and not consumer.has_work(envelope):
                result.processed += 1
                return
            if consumer.own_units:
                consumer.apply(None, envelope)
                result.processed += 1
            else:
                processed, duplicates = apply_in_one_transaction(consumer, [envelope])
                result.processed += processed
                result.duplicates += duplicates
            return
        except Exception as exc:  # any failure is retried, then dead-lettered
            error = exc
            logger.warning(
                "consumer record failed",
                extra={"consumer": consumer.name, "topic": record.topic, "offset": record.offset},
                exc_info=exc,
            )
    assert error is not None
    dead_letter(consumer, record, error, attempts, envelope)
    result.dead_lettered += 1
    result.errors.append(str(error))


def _original_text(encoded: str | None) -> str | None:
    if encoded is None:
        return None
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return encoded
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return encoded


def dead_letter(
    consumer: Consumer,
    record: ConsumerRecordRecords,
    error: Exception,
    attempts: int,
    envelope: Envelope | None,
) -> None:
    """Publish the record and its error to `system.deadletter`, through the outbox."""
    key = _original_text(record.original_key)
    letter = DeadLetter(
        consumer=consumer.name,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=key,
        value=_original_text(record.original_value) or "",
        error=f"{type(error).__name__}: {error}",
        attempts=attempts,
        event_id=envelope.id if envelope else None,
    )
    with session_scope() as session:
        emit(
            session,
            catalog.SYSTEM_DEADLETTER,
            key or consumer.name,
            letter.model_dump(mode="json", by_alias=True),
        )
    logger.error("record dead-lettered", extra=letter.model_dump(mode="json", by_alias=True))


def handle_whole_batch(
    consumer: Consumer, records: list[ConsumerRecordRecords]
) -> BatchResult | None:
    """The batch in one transaction; None when it failed (nothing of it committed)."""
    result = BatchResult()
    try:
        envelopes = [Envelope.model_validate(record.value) for record in records]
        wanted = [envelope for envelope in envelopes if envelope.type in consumer.topics]
        result.ignored = len(envelopes) - len(wanted)
        if consumer.has_work is not None:
            busy = [envelope for envelope in wanted if consumer.has_work(envelope)]
            result.processed = len(wanted) - len(busy)
            wanted = busy
        applied, result.duplicates = apply_in_one_transaction(consumer, wanted)
        result.processed += applied
    except Exception as exc:  # rolled back: record by record finds the culprit
        logger.warning(
            "batch failed as a whole; going record by record",
            extra={"consumer": consumer.name, "records": len(records)},
            exc_info=exc,
        )
        return None
    return result


def process(consumer: Consumer, records: Iterable[ConsumerRecordRecords]) -> BatchResult:
    records = list(records)
    result = None
    if consumer.whole_batches and len(records) > 1:
        result = handle_whole_batch(consumer, records)
    if result is None:
        result = BatchResult()
        for record in records:
            handle_record(consumer, record, result)
    logger.info("batch done", extra={"consumer": consumer.name, **result.as_dict()})
    return result


def lambda_handler(consumer: Consumer) -> Callable[[dict[str, Any], LambdaContext], dict]:
    """The function's handler for a Kafka event source (MSK or self-managed)."""

    @logger.inject_lambda_context
    @kafka_consumer(schema_config=ENVELOPE_JSON)
    def handler(event: ConsumerRecords, context: LambdaContext) -> dict[str, Any]:
        return process(consumer, event.records).as_dict()

    return handler


__all__ = ["Consumer", "claim_all", "lambda_handler", "process"]
