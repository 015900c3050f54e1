"""Fixtures for the events pipeline: ids, a Kafka reader, consumer invocation."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from parley.db import session_scope
from parley.db.models import Chat, ChatMember, Message, Receipt, User
from parley.events import publisher
from parley.events.eventsource import kafka_event
from parley.events.kafka import client_config


@pytest.fixture(autouse=True)
def publishing_resumed() -> Iterator[None]:
    """A pause left by a test with a broken broker must not leak into the next."""
    publisher.resume_publishing()
    yield
    publisher.resume_publishing()


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


@pytest.fixture
def topic_reader() -> Callable[..., list]:
    return read_topics


def envelope_ids(messages: list) -> list[str]:
    return [json.loads(message.value())["id"] for message in messages]


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def as_lambda_event() -> Callable[..., dict]:
    return kafka_event


SAMPLES = Path(__file__).resolve().parent.parent / "events"


def sample_event(name: str) -> dict:
    """A Lambda Kafka payload from tests/events/ (ids match `sample_chat`)."""
    return json.loads((SAMPLES / name).read_text())


@dataclass(frozen=True)
class SampleChat:
    chat_id: uuid.UUID
    alice: uuid.UUID
    bob: uuid.UUID
    message_id: uuid.UUID


SAMPLE_CHAT = SampleChat(
    chat_id=uuid.UUID("7a1c3e52-0d6b-4f0e-9a57-3c2b1f0e8d11"),
    alice=uuid.UUID("1b2d4f60-8a9c-4e1f-b3d5-f7a9c1e3b5d7"),
    bob=uuid.UUID("2c3e5a71-9bad-4f20-84e6-a8bad2f4c6e8"),
    message_id=uuid.UUID("9e8d7c6b-5a49-4837-a261-5f4e3d2c1b0a"),
)
SAMPLE_SENT_AT = datetime(2025, 6, 2, 9, 15, 0, 100000, tzinfo=UTC)


def seed_chat(chat: SampleChat, messages: list[tuple[uuid.UUID, int, datetime]]) -> None:
    """Alice and Bob in a direct chat; Alice sent `messages` (id, seq, sent at) to Bob."""
    with session_scope() as session:
        session.add_all(
            [
                User(id=chat.alice, username=f"alice-{chat.alice.hex[:6]}", password_hash="x"),
                User(id=chat.bob, username=f"bob-{chat.bob.hex[:6]}", password_hash="x"),
            ]
        )
        session.flush()
        session.add(Chat(id=chat.chat_id, type="direct", created_by=chat.alice))
        session.flush()
        session.add_all(
            [
                ChatMember(chat_id=chat.chat_id, user_id=chat.alice),
                ChatMember(chat_id=chat.chat_id, user_id=chat.bob),
            ]
        )
        for message_id, seq, sent_at in messages:
            session.add(
                Message(
                    id=message_id,
                    chat_id=chat.chat_id,
                    seq=seq,
                    sender_id=chat.alice,
                    body=f"message {seq}",
                    created_at=sent_at,
                )
            )
            session.flush()
            session.add(
                Receipt(message_id=message_id, user_id=chat.bob, chat_id=chat.chat_id, seq=seq)
            )


@pytest.fixture
def sample_chat() -> SampleChat:
    """The chat of the sample payloads in tests/events/, with its one message stored."""
    seed_chat(SAMPLE_CHAT, [(SAMPLE_CHAT.message_id, 1, SAMPLE_SENT_AT)])
    return SAMPLE_CHAT


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
