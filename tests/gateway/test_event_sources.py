"""Kafka event sources and schedules run the template's functions."""

from __future__ import annotations

import base64
import copy
import time
from datetime import UTC, datetime

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    EventBridgeModel,
    KafkaSelfManagedEventModel,
)
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from parley_dev.gateway import GatewayOptions, GatewayServer, create_app
from parley_dev.gateway.schedules import parse_cron, rate_seconds
from parley_dev.services import start_kafka

from .conftest import FIXTURE_TEMPLATE, Journal


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory):
    broker = start_kafka(tmp_path_factory.mktemp("kafka"))
    admin = AdminClient({"bootstrap.servers": broker.url})
    futures = admin.create_topics(
        [
            NewTopic(t, num_partitions=1, replication_factor=1)
            for t in ("fixture.records", "fixture.failed", "fixture.filtered")
        ]
    )
    for future in futures.values():
        future.result(timeout=30)
    yield broker.url
    broker.stop()


@pytest.fixture(scope="module")
def consuming_gateway(kafka: str, journal: Journal):
    options = GatewayOptions(
        run_schedules=False, parameter_overrides={"KafkaBootstrapServers": kafka}
    )
    with GatewayServer(create_app(FIXTURE_TEMPLATE, options=options)) as server:
        yield server


def _produce(
    bootstrap: str, *records: tuple[bytes | None, bytes], topic: str = "fixture.records"
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for key, value in records:
        producer.produce(topic, key=key, value=value, headers=[("trace", b"t1")])
    assert producer.flush(10) == 0


def _delivered(journal: Journal, value: bytes) -> list[dict]:
    encoded = base64.b64encode(value).decode()
    return [
        entry
        for entry in journal.entries("kafka")
        if any(r["value"] == encoded for rs in entry["event"]["records"].values() for r in rs)
    ]


def _values_delivered_from(journal: Journal, topic: str) -> list[bytes]:
    return [
        base64.b64decode(r["value"])
        for entry in journal.entries("kafka")
        for rs in entry["event"]["records"].values()
        for r in rs
        if r["topic"] == topic
    ]


def test_records_arrive_as_the_self_managed_kafka_payload(consuming_gateway, kafka, journal):
    _produce(kafka, (b"k1", b"first"), (None, b"second"))
    batches = journal.wait_for(lambda: _delivered(journal, b"second"), timeout=30)
    event = batches[0]["event"]
    KafkaSelfManagedEventModel.model_validate(copy.deepcopy(event))  # it decodes in place
    assert event["eventSource"] == "SelfManagedKafka"
    assert event["bootstrapServers"] == kafka
    records = [r for rs in event["records"].values() for r in rs]
    assert list(event["records"]) == ["fixture.records-0"]
    by_value = {base64.b64decode(r["value"]): r for r in records}
    first = by_value[b"first"]
    assert base64.b64decode(first["key"]) == b"k1"
    assert "key" not in by_value[b"second"]
    assert first["headers"] == [{"trace": list(b"t1")}]
    assert first["topic"] == "fixture.records" and first["partition"] == 0
    assert first["timestampType"] == "CREATE_TIME" and first["timestamp"] > 0


def test_failing_batch_is_retried_then_sent_to_the_failure_topic(consuming_gateway, kafka, journal):
    _produce(kafka, (b"bad", b"fail"))
    attempts = journal.wait_for(lambda: _delivered(journal, b"fail"), count=4, timeout=30)
    assert len(attempts) == 4  # the first try and three retries

    consumer = Consumer(
        {
            "bootstrap.servers": kafka,
            "group.id": "failure-reader",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe(["fixture.failed"])
    try:
        deadline, parked = time.monotonic() + 30, None
        while parked is None and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                parked = message
    finally:
        consumer.close()
    assert parked is not None and parked.value() == b"fail" and parked.key() == b"bad"
    assert dict(parked.headers())["source-topic"] == b"fixture.records"

    # Consumption goes on after the poisoned batch.
    _produce(kafka, (None, b"after the poison"))
    assert journal.wait_for(lambda: _delivered(journal, b"after the poison"), timeout=30)


def test_only_records_a_filter_matches_reach_the_function(consuming_gateway, kafka, journal):
    wanted = b'{"data": {"wanted": true}, "n": 1}'
    also_wanted = b'{"kind": "always.this", "n": 2}'
    unwanted = [b'{"data": {"wanted": false}}', b'{"data": {}}', b"not json", b'{"kind": "x"}']
    last = b'{"data": {"wanted": true}, "n": 3}'
    _produce(
        kafka,
        (None, wanted),
        *[(None, value) for value in unwanted],
        (None, also_wanted),
        topic="fixture.filtered",
    )
    # Records passed over do not hold up the ones after them.
    _produce(kafka, (None, last), topic="fixture.filtered")

    journal.wait_for(lambda: _delivered(journal, last), timeout=30)

    assert _values_delivered_from(journal, "fixture.filtered") == [wanted, also_wanted, last]


def test_schedule_fires_with_a_short_rate_override(journal):
    options = GatewayOptions(run_event_sources=False, schedule_rate_override_seconds=0.2)
    with GatewayServer(create_app(FIXTURE_TEMPLATE, options=options)):
        fired = journal.wait_for(lambda: journal.entries("schedule"), count=2, timeout=10)
    assert len(fired) >= 2
    event = fired[0]["event"]
    EventBridgeModel.model_validate(event)
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["detail"] == {}
    assert event["resources"][0].endswith("rule/TickFunction-Tick")


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 12 * * ? *)", "2024-03-01T13:00", "2024-03-02T12:00"),
        ("cron(15,45 * * * ? *)", "2024-03-01T10:20", "2024-03-01T10:45"),
        ("cron(0/10 8-9 ? * MON-FRI *)", "2024-03-02T10:00", "2024-03-04T08:00"),
        ("cron(0 0 1 JAN ? 2030)", "2024-03-01T00:00", "2030-01-01T00:00"),
    ],
)
def test_cron_expressions_follow_aws_syntax(expression, after, expected):
    moment = datetime.fromisoformat(after).replace(tzinfo=UTC)
    found = parse_cron(expression).next_after(moment)
    assert found == datetime.fromisoformat(expected).replace(tzinfo=UTC)


def test_rate_expressions():
    assert rate_seconds("rate(1 minute)") == 60
    assert rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(2 hours)") == 7200
    assert rate_seconds("cron(0 * * * ? *)") is None
