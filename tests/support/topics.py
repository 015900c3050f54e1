"""Reading what the broker holds, as a test checks it."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, TopicPartition

from parley.events.kafka import client_config


def read_topics(topics: list[str], *, timeout: float = 20.0) -> list:
    """Every record currently on `topics`, from the start (no group offsets kept)."""
    consumer = Consumer(
        client_config(
            **{
                "group.id": f"test-reader-{uuid.uuid4()}",
                "enable.auto.commit": False,
                "session.timeout.ms": 6000,
                "fetch.wait.max.ms": 10,
            }
        )
    )
    try:
        metadata = consumer.list_topics(timeout=timeout)
        partitions = []
        ends: dict[tuple[str, int], int] = {}
        for name in topics:
            for partition in metadata.topics[name].partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(name, partition), timeout=timeout
                )
                if high > low:
                    partitions.append(TopicPartition(name, partition, low))
                    ends[(name, partition)] = high
        if not partitions:
            return []
        consumer.assign(partitions)
        records = []
        positions = {tp: None for tp in ends}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(
            positions[tp] is None or positions[tp] < ends[tp] - 1 for tp in ends
        ):
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            records.append(message)
            positions[(message.topic(), message.partition())] = message.offset()
        # The broker's high watermark may trail its log by a record: drain.
        while (message := consumer.poll(0.3)) is not None:
            if not message.error():
                records.append(message)
        return records
    finally:
        consumer.close()
