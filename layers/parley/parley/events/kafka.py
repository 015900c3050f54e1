"""Kafka clients, created on first use, and topic administration."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from parley.config import get_settings
from parley.events.catalog import TOPICS
from parley.observability import logger
from parley.snapstart import holds_connections

_producer: Producer | None = None
# Set when librdkafka reports a fatal error (a fenced or broken idempotent
# producer): such a producer refuses every send from then on.
_producer_failed = False

# Errors after which an idempotent producer is done for: it is replaced.
REPLACE_PRODUCER_ON = frozenset(
    {
        KafkaError._FATAL,
        KafkaError._FENCED,
        KafkaError.PRODUCER_FENCED,
        KafkaError.INVALID_PRODUCER_EPOCH,
        KafkaError.UNKNOWN_PRODUCER_ID,
        KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
        KafkaError.INVALID_PRODUCER_ID_MAPPING,
    }
)


def is_fatal(error: KafkaError) -> bool:
    """True for an error the producer cannot recover from by itself."""
    return error.fatal() or error.code() in REPLACE_PRODUCER_ON


def client_config(**overrides: object) -> dict[str, object]:
    settings = get_settings()
    config: dict[str, object] = {"bootstrap.servers": settings.kafka_bootstrap_servers}
    config.update(settings.kafka_client_config)
    config.update(overrides)
    return config


def _on_client_error(error: KafkaError) -> None:
    """librdkafka's error callback (runs inside poll/flush, on the caller's thread)."""
    global _producer_failed
    if is_fatal(error):
        _producer_failed = True
        logger.error("Kafka producer failed; it will be replaced", extra={"error": str(error)})


def get_producer() -> Producer:
    """The idempotent producer: no duplicates from its own retries, order per partition.

    A producer that reported a fatal error (fenced, out of sequence) is replaced
    by a fresh one here, so a broker outage never leaves a dead producer behind.
    """
    global _producer
    if _producer is not None and _producer_failed:
        discard_producer()
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
                    "error_cb": _on_client_error,
                }
            )
        )
    return _producer


@holds_connections
def reset_producer() -> None:
    global _producer, _producer_failed
    if _producer is not None:
        _producer.flush(1)
    _producer = None
    _producer_failed = False


def discard_producer() -> None:
    """Drop the producer without waiting for it: what it still holds is purged.

    Its rows were not marked published, so the relay publishes them again
    (consumers are idempotent on the event id; a copy the old producer had
    already put on the wire may arrive twice, never zero times).
    """
    global _producer, _producer_failed
    old, _producer, _producer_failed = _producer, None, False
    if old is None:
        return
    try:
        old.purge(in_queue=True, in_flight=True)
        old.poll(0)
    except (KafkaException, RuntimeError) as exc:
        logger.warning("purging the failed producer failed", exc_info=exc)


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
