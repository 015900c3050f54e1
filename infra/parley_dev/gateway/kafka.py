"""Kafka event sources: one consumer group per mapping, batches to the function.

As Lambda's MSK and self-managed Kafka event source mappings: records are
delivered in batches keyed `topic-partition`, with base64 keys and values;
records that the mapping's FilterCriteria do not match are passed over;
offsets are committed only once the function returned; a batch that keeps
failing is retried a few times, then handed to the mapping's on-failure
topic (if any) and consumption goes on.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import threading
from typing import Any

from confluent_kafka import (
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

from .options import GatewayOptions, _local_kafka_defaults
from .runtime import Runner, access_log
from .template import KafkaMapping, Wiring

logger = logging.getLogger(__name__)

_OFFSET_RESET = {"TRIM_HORIZON": "earliest", "LATEST": "latest", "AT_TIMESTAMP": "latest"}
_QUIET_ERRORS = {KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART}


def kafka_event(
    mapping: KafkaMapping, bootstrap_servers: str, messages: list[Message]
) -> dict[str, Any]:
    """The payload Lambda builds for a batch, in both event-source flavours."""
    records: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        timestamp_type, timestamp = message.timestamp()
        record: dict[str, Any] = {
            "topic": message.topic(),
            "partition": message.partition(),
            "offset": message.offset(),
            "timestamp": timestamp,
            "timestampType": "LOG_APPEND_TIME"
            if timestamp_type == TIMESTAMP_LOG_APPEND_TIME
            else "CREATE_TIME",
            "value": base64.b64encode(message.value() or b"").decode("ascii"),
            "headers": [{name: list(value or b"")} for name, value in (message.headers() or [])],
        }
        if message.key() is not None:
            record["key"] = base64.b64encode(message.key()).decode("ascii")
        records.setdefault(f"{message.topic()}-{message.partition()}", []).append(record)
    event: dict[str, Any] = {"eventSource": mapping.event_source}
    if mapping.event_source == "aws:kafka":
        event["eventSourceArn"] = mapping.event_source_arn or (
            f"arn:aws:kafka:us-east-1:123456789012:cluster/local/{mapping.name}"
        )
    event["bootstrapServers"] = bootstrap_servers
    event["records"] = records
    return event


class _MappingConsumer(threading.Thread):
    def __init__(
        self,
        mapping: KafkaMapping,
        bootstrap_servers: str,
        runner: Runner,
        options: GatewayOptions,
    ) -> None:
        super().__init__(name=f"kafka:{mapping.name}", daemon=True)
        self.mapping = mapping
        self.bootstrap_servers = bootstrap_servers
        self.runner = runner
        self.options = options
        self.failure_topic = (
            options.kafka_on_failure_topics.get(mapping.name)
            or options.kafka_on_failure_topics.get(mapping.function)
            or mapping.on_failure_topic
        )
        self.stopping = threading.Event()
        self._producer: Producer | None = None

    def _config(self) -> dict[str, Any]:
        return {
            **_local_kafka_defaults(),
            **self.options.kafka_consumer_config,
            "bootstrap.servers": self.bootstrap_servers,
            "group.id": self.mapping.consumer_group_id or self.mapping.name,
            "enable.auto.commit": False,
            "auto.offset.reset": _OFFSET_RESET.get(self.mapping.starting_position, "latest"),
        }

    def run(self) -> None:
        consumer = Consumer(self._config())
        consumer.subscribe(list(self.mapping.topics))
        try:
            while not self.stopping.is_set():
                polled = consumer.consume(
                    num_messages=self.mapping.batch_size,
                    timeout=max(0.05, self.mapping.batching_window_seconds),
                )
                consumed = []
                for message in polled:
                    error = message.error()
                    if error is None:
                        consumed.append(message)
                    elif error.code() not in _QUIET_ERRORS:
                        logger.warning("%s: %s", self.mapping.name, error)
                batch = self._filtered(consumed)
                if consumed and (not batch or self._deliver(batch)):
                    consumer.commit(offsets=_next_offsets(consumed), asynchronous=False)
        except Exception:
            logger.exception("Kafka consumer for %s stopped", self.mapping.name)
        finally:
            consumer.close()
            if self._producer is not None:
                self._producer.flush(5)

    def _filtered(self, messages: list[Message]) -> list[Message]:
        """What the mapping's FilterCriteria let through (all, without any)."""
        record_filter = self.mapping.record_filter
        if record_filter is None:
            return messages
        return [m for m in messages if record_filter.accepts_kafka_value(m.value())]

    def _deliver(self, batch: list[Message]) -> bool:
        """True when the batch is done with (handled, or parked on failure)."""
        event = kafka_event(self.mapping, self.bootstrap_servers, batch)
        attempts = 1 + max(0, self.options.kafka_max_retries)
        error: Exception | None = None
        for attempt in range(attempts):
            # Backoff, cut short by shutdown (the batch is then redelivered).
            if attempt and self.stopping.wait(0.1 * 2 ** (attempt - 1)):
                return False
            with access_log(
                route="kafka",
                function=self.mapping.function,
                topics=",".join(sorted({m.topic() for m in batch})),
                records=len(batch),
                attempt=attempt + 1,
            ) as log:
                try:
                    self.runner.invoke_sync(self.mapping.function, event)
                except Exception as exc:
                    logger.exception("%s failed on a batch of %d", self.mapping.name, len(batch))
                    log["status"] = "error"
                    error = exc
                    continue
                log["status"] = "ok"
                return True
        self._park(batch, error)
        return True

    def _park(self, batch: list[Message], error: Exception | None) -> None:
        if not self.failure_topic:
            logger.error(
                "%s: dropping %d record(s) after %d attempts (no on-failure destination)",
                self.mapping.name,
                len(batch),
                1 + self.options.kafka_max_retries,
            )
            return
        if self._producer is None:
            self._producer = Producer({"bootstrap.servers": self.bootstrap_servers})
        for message in batch:
            headers = [
                *(message.headers() or []),
                ("error-type", type(error).__name__.encode()),
                ("error-message", str(error).encode()),
                ("source-topic", message.topic().encode()),
                ("source-partition", str(message.partition()).encode()),
                ("source-offset", str(message.offset()).encode()),
            ]
            self._producer.produce(
                self.failure_topic, value=message.value(), key=message.key(), headers=headers
            )
        self._producer.flush(10)
        logger.warning(
            "%s: %d record(s) sent to %s", self.mapping.name, len(batch), self.failure_topic
        )


def _next_offsets(batch: list[Message]) -> list[TopicPartition]:
    last: dict[tuple[str, int], int] = {}
    for message in batch:
        key = (message.topic(), message.partition())
        last[key] = max(last.get(key, -1), message.offset())
    return [TopicPartition(topic, part, offset + 1) for (topic, part), offset in last.items()]


class KafkaEventSources:
    def __init__(self, wiring: Wiring, runner: Runner, options: GatewayOptions) -> None:
        self.consumers: list[_MappingConsumer] = []
        for mapping in wiring.kafka_mappings:
            if not mapping.enabled:
                continue
            servers = mapping.bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
            if not servers:
                logger.warning("%s: no bootstrap servers; not consuming", mapping.name)
                continue
            self.consumers.append(_MappingConsumer(mapping, servers, runner, options))

    async def start(self) -> None:
        for consumer in self.consumers:
            consumer.start()

    async def stop(self) -> None:
        for consumer in self.consumers:
            consumer.stopping.set()
        for consumer in self.consumers:
            await asyncio.to_thread(consumer.join, 30)
