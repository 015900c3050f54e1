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

from parley.db import session_scope
from parley.db.models import Chat, ChatMember, Message, Receipt, User
from parley.events import publisher
from parley.events.eventsource import kafka_event
from tests.support.topics import read_topics


@pytest.fixture(autouse=True)
def publishing_resumed() -> Iterator[None]:
    """A pause left by a test with a broken broker must not leak into the next."""
    publisher.resume_publishing()
    yield
    publisher.resume_publishing()


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
