"""Rebuild a consumer's tables from its topics.

The consumer's tables and its `processed_events` rows are emptied, then its
topics are read from the earliest offset with a fresh consumer group until
caught up, and each batch goes through the consumer's own Lambda handler as
the Kafka event payload: the same code, so the same figures.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

from confluent_kafka import Consumer, TopicPartition
from sqlalchemy import delete, text

from parley.db import session_scope
from parley.db.models import ProcessedEvent
from parley.events.consumers import analytics
from parley.events.consumers.base import Consumer as EventConsumer
from parley.events.eventsource import kafka_event
from parley.events.kafka import client_config


@dataclass(frozen=True)
class Replayable:
    consumer: EventConsumer
    tables: tuple[str, ...]
    handler: Callable[[dict, object], dict]


REPLAYABLE: dict[str, Replayable] = {
    analytics.NAME: Replayable(
        analytics.CONSUMER,
        tuple(table.__tablename__ for table in analytics.TABLES),
        analytics.handler,
    ),
}


@dataclass
class ReplayResult:
    records: int = 0
    batches: int = 0
    processed: int = 0
    dead_lettered: int = 0


def reset(target: Replayable) -> None:
    with session_scope() as session:
        session.execute(text(f"TRUNCATE {', '.join(target.tables)}"))
        session.execute(
            delete(ProcessedEvent).where(ProcessedEvent.consumer == target.consumer.name)
        )


def _context(name: str) -> SimpleNamespace:
    return SimpleNamespace(
        function_name=f"parley-{name}-replay",
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:local:000000000000:function:parley-{name}-replay",
        memory_limit_in_mb=512,
        aws_request_id=str(uuid.uuid4()),
        get_remaining_time_in_millis=lambda: 60_000,
    )


def replay(
    name: str,
    *,
    batch_size: int = 100,
    idle_seconds: float = 1.0,
    timeout: float = 600.0,
    on_batch: Callable[[ReplayResult], None] = lambda _result: None,
) -> ReplayResult:
    """Empty `name`'s tables and feed it its topics again from the earliest offset."""
    try:
        target = REPLAYABLE[name]
    except KeyError:
        raise ValueError(f"cannot replay {name!r}; replayable: {sorted(REPLAYABLE)}") from None
    reset(target)
    reader = Consumer(
        client_config(
            **{
                "group.id": f"parley-{name}-replay-{uuid.uuid4()}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": 6000,
                "fetch.wait.max.ms": 10,
            }
        )
    )
    result = ReplayResult()
    try:
        ends = _high_watermarks(reader, sorted(target.consumer.topics))
        reader.assign([TopicPartition(topic, partition, 0) for topic, partition in ends])
        positions: dict[tuple[str, int], int] = {}
        deadline = time.monotonic() + timeout
        last_record = time.monotonic()
        while time.monotonic() < deadline:
            messages = [m for m in reader.consume(batch_size, 0.2) if not m.error()]
            if messages:
                last_record = time.monotonic()
                for message in messages:
                    positions[(message.topic(), message.partition())] = message.offset()
                outcome = target.handler(kafka_event(messages), _context(name))
                result.records += len(messages)
                result.batches += 1
                result.processed += outcome["processed"]
                result.dead_lettered += outcome["deadLettered"]
                on_batch(result)
                continue
            caught_up = all(positions.get(tp, -1) >= high - 1 for tp, high in ends.items())
            # Past the watermarks read at the start, and quiet for a moment.
            if caught_up and time.monotonic() - last_record >= idle_seconds:
                break
    finally:
        reader.close()
    return result


def _high_watermarks(reader: Consumer, topics: list[str]) -> dict[tuple[str, int], int]:
    metadata = reader.list_topics(timeout=15)
    ends = {}
    for topic in topics:
        for partition in metadata.topics[topic].partitions:
            _low, high = reader.get_watermark_offsets(TopicPartition(topic, partition), timeout=15)
            ends[(topic, partition)] = high
    return ends
