"""Through Kafka: emit, publish at commit, consume with a group, handle, replay."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Consumer
from sqlalchemy import select

from parley.db import session_scope
from parley.db.models import AnalyticsChatDaily, AnalyticsUserDaily
from parley.events import catalog, emit
from parley.events.eventsource import kafka_event
from parley.events.kafka import client_config
from parley.events.replay import replay
from parley_dev.cli import lambda_context, load_function
from tests.events_pipeline.conftest import SampleChat, seed_chat

ANALYTICS_TOPICS = [catalog.MESSAGE_CREATED, catalog.MESSAGE_DELIVERED, catalog.MESSAGE_READ]


@pytest.fixture
def busy_chat() -> tuple[SampleChat, list[tuple[uuid.UUID, int, datetime]]]:
    chat = SampleChat(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
    start = datetime.now(UTC) - timedelta(minutes=10)
    messages = [(uuid.uuid4(), seq, start + timedelta(seconds=seq)) for seq in range(1, 5)]
    seed_chat(chat, messages)
    return chat, messages


def send_deliver_read(chat: SampleChat, messages: list) -> None:
    """What the real-time code emits: each message created and delivered, then two reads."""
    for message_id, seq, sent_at in messages:
        wire = {
            "id": str(message_id),
            "chatId": str(chat.chat_id),
            "seq": seq,
            "senderId": str(chat.alice),
            "body": f"message {seq}",
            "createdAt": sent_at.isoformat(),
        }
        with session_scope() as session:
            emit(
                session,
                catalog.MESSAGE_CREATED,
                chat.chat_id,
                {**wire, "recipientIds": [str(chat.bob)]},
            )
        receipt = {
            "messageId": str(message_id),
            "chatId": str(chat.chat_id),
            "userId": str(chat.bob),
            "seq": seq,
        }
        with session_scope() as session:
            at = sent_at + timedelta(seconds=1)
            emit(
                session, catalog.MESSAGE_DELIVERED, chat.chat_id, {**receipt, "at": at.isoformat()}
            )
    for (message_id, seq, sent_at), delay in ((messages[1], 30), (messages[3], 90)):
        with session_scope() as session:
            at = sent_at + timedelta(seconds=delay)
            emit(
                session,
                catalog.MESSAGE_READ,
                chat.chat_id,
                {
                    "messageId": str(message_id),
                    "chatId": str(chat.chat_id),
                    "userId": str(chat.bob),
                    "seq": seq,
                    "upToSeq": seq,
                    "at": at.isoformat(),
                },
            )


def consume_own(chat: SampleChat, expected: int, timeout: float = 30.0) -> list:
    """Read the analytics topics as a consumer group would, keeping this chat's records."""
    consumer = Consumer(
        client_config(
            **{
                "group.id": f"test-e2e-{uuid.uuid4()}",
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 6000,
                "fetch.wait.max.ms": 10,
            }
        )
    )
    consumer.subscribe(ANALYTICS_TOPICS)
    records = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if (
                message is not None
                and not message.error()
                and message.key() == str(chat.chat_id).encode()
            ):
                records.append(message)
    finally:
        consumer.close()
    return records


def figures(chat: SampleChat) -> list[tuple]:
    with session_scope() as session:
        chats = session.scalars(
            select(AnalyticsChatDaily).where(AnalyticsChatDaily.chat_id == chat.chat_id)
        ).all()
        users = session.scalars(
            select(AnalyticsUserDaily).where(AnalyticsUserDaily.user_id.in_([chat.alice, chat.bob]))
        ).all()
        return sorted(
            (
                str(r.day),
                getattr(r, "chat_id", None) or r.user_id,
                r.messages_sent,
                r.messages_delivered,
                r.messages_read,
                r.median_read_ms,
            )
            for r in [*chats, *users]
        )


def test_events_flow_from_emit_through_kafka_into_analytics_and_replay_rebuilds_them(
    busy_chat,
) -> None:
    chat, messages = busy_chat
    # Given a conversation whose events were published at commit
    send_deliver_read(chat, messages)

    # When a consumer group reads them and hands the payload to the analytics function
    records = consume_own(chat, expected=10)
    assert len(records) == 10
    handler = load_function("analytics")
    outcome = handler(kafka_event(records), lambda_context("analytics"))

    # Then the figures are those of the conversation
    assert outcome["processed"] == 10
    day = messages[0][2].date().isoformat()
    before = figures(chat)
    chat_row = next(row for row in before if row[1] == chat.chat_id)
    # Sent 1 s apart; read up to seq 2 30 s after it (31 s, 30 s) and up to
    # seq 4 90 s after it (91 s, 90 s): four reads, median 60.5 s
    assert chat_row == (day, chat.chat_id, 4, 4, 4, 60_500)

    # When the analytics tables are rebuilt from the topics
    result = replay("analytics", idle_seconds=0.5)

    # Then they reach the same figures
    assert result.dead_lettered == 0
    assert figures(chat) == before
