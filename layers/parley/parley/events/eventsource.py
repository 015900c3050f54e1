"""The Lambda Kafka event payload, built from consumed records.

Lambda's Kafka event sources hand a function `{"eventSource", "bootstrapServers",
"records": {"topic-partition": [...]}}` with base64 keys and values. The replay
command and the tests build the same payload from records read with a plain
consumer, so the very same handler code runs on them.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any, Protocol

SELF_MANAGED = "SelfManagedKafka"
MSK = "aws:kafka"
MSK_CLUSTER_ARN = (
    "arn:aws:kafka:us-east-1:000000000000:cluster/parley/00000000-0000-0000-0000-000000000000-1"
)


class KafkaRecordLike(Protocol):
    """What a confluent-kafka Message offers."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> list[tuple[str, bytes]] | None: ...
    def timestamp(self) -> tuple[int, int]: ...


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data is not None else None


def lambda_record(message: KafkaRecordLike) -> dict[str, Any]:
    record: dict[str, Any] = {
        "topic": message.topic(),
        "partition": message.partition(),
        "offset": message.offset(),
        "timestamp": message.timestamp()[1],
        "timestampType": "CREATE_TIME",
        "value": _b64(message.value()),
        "headers": [{name: list(value or b"")} for name, value in message.headers() or []],
    }
    if message.key() is not None:
        record["key"] = _b64(message.key())
    return record


def kafka_event(
    messages: Iterable[KafkaRecordLike],
    *,
    event_source: str = SELF_MANAGED,
    bootstrap_servers: str = "127.0.0.1:9092",
) -> dict[str, Any]:
    """The payload Lambda would deliver for these records (self-managed or MSK)."""
    records: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        records.setdefault(f"{message.topic()}-{message.partition()}", []).append(
            lambda_record(message)
        )
    event: dict[str, Any] = {"eventSource": event_source, "bootstrapServers": bootstrap_servers}
    if event_source == MSK:
        event["eventSourceArn"] = MSK_CLUSTER_ARN
    event["records"] = records
    return event
