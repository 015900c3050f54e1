"""Kafka clients, created on first use, and topic administration."""

from __future__ import annotations

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from parley.config import get_settings
from parley.events.catalog import TOPICS
from parley.observability import logger
from parley.snapstart import holds_connections

_producer: Producer | None = None


def client_config(**overrides: object) -> dict[str, object]:
    settings = get_settings()
    config: dict[str, object] = {"bootstrap.servers": settings.kafka_bootstrap_servers}
    config.update(settings.kafka_client_config)
    config.update(overrides)
    return config


def get_producer() -> Producer:
    """The idempotent producer: no duplicates from its own retries, order per partition."""
    global _producer
    if _producer is None:
        _producer = Producer(
            client_config(
                **{
                    "enable.idempotence": True,
                    "acks": "all",
                    "linger.ms": 5,
                    "message.timeout.ms": 30000,
                    "socket.connection.setup.timeout.ms": 3000,
                    # librdkafka's own lines (a broker away, reconnects) go to
                    # the structured log instead of raw stderr.
                    "logger": logger,
                }
            )
        )
    return _producer


@holds_connections
def reset_producer() -> None:
    global _producer
    if _producer is not None:
        _producer.flush(1)
    _producer = None


def ensure_topics(timeout: float = 15.0) -> list[str]:
    """Create every catalog topic that does not exist yet; returns those created."""
    settings = get_settings()
    admin = AdminClient(client_config())
    metadata = admin.list_topics(timeout=timeout)
    existing = set(metadata.topics)
    replication = 1 if len(metadata.brokers) == 1 else -1
    wanted = [
        NewTopic(
            topic.name,
            num_partitions=topic.partitions or settings.topic_partitions,
            replication_factor=replication,
            config={"retention.ms": str(topic.retention_ms or settings.topic_retention_ms)},
        )
        for topic in TOPICS
        if topic.name not in existing
    ]
    if not wanted:
        return []
    created = []
    for name, future in admin.create_topics(wanted, request_timeout=timeout).items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
    return created
