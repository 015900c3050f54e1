"""Consumer handlers invoked with real MSK / self-managed Kafka event payloads."""

from __future__ import annotations

import base64
import copy
import json
import time

import pytest
from sqlalchemy import select

from parley.db import session_scope
from parley.db.models import (
    AnalyticsChatDaily,
    AnalyticsReadSample,
    AnalyticsUserDaily,
    AuditLog,
    Notification,
    ProcessedEvent,
)
from parley.events import catalog
from parley.events.consumers import notifications
from parley.events.outbox import all_events
from parley.stores import connections
from parley_dev.cli import lambda_context, load_function
from tests.events_pipeline.conftest import SampleChat, sample_event

SENT_DAY = "2025-06-02"


def invoke(function: str, event: dict) -> dict:
    return load_function(function)(event, lambda_context(function))


def table_state() -> dict[str, list]:
    """Everything the consumers write, to compare before and after."""
    tables = (AnalyticsChatDaily, AnalyticsUserDaily, AnalyticsReadSample, AuditLog, Notification)
    with session_scope() as session:
        state = {
            t.__tablename__: sorted(
                tuple(str(v) for k, v in vars(row).items() if k not in ("_sa_instance_state", "id"))
                for row in session.scalars(select(t))
            )
            for t in tables
        }
        state["outbox"] = sorted(e.type for e in all_events(session))
        state["processed"] = len(session.scalars(select(ProcessedEvent)).all())
    return state


def events_of(event_type: str) -> list:
    with session_scope() as session:
        return [e for e in all_events(session) if e.type == event_type]


def test_analytics_counts_a_sent_message_for_the_chat_and_the_sender(
    sample_chat: SampleChat,
) -> None:
    outcome = invoke("analytics", sample_event("kafka_message_created.json"))

    assert outcome == {"processed": 1, "duplicates": 0, "ignored": 0, "deadLettered": 0}
    with session_scope() as session:
        chat = session.get(AnalyticsChatDaily, (sample_chat.chat_id, SENT_DAY))
        sender = session.get(AnalyticsUserDaily, (sample_chat.alice, SENT_DAY))
    assert (chat.messages_sent, chat.messages_delivered, chat.messages_read) == (1, 0, 0)
    assert sender.messages_sent == 1
    (figures,) = events_of(catalog.ANALYTICS_MESSAGE)
    assert figures.key == str(sample_chat.chat_id)
    assert figures.data["messagesSent"] == 1


def test_analytics_measures_delivery_reads_and_median_time_to_read(sample_chat: SampleChat) -> None:
    # Given the MSK payload of one message sent, delivered and read 42 s later
    invoke("analytics", sample_event("msk_message_lifecycle.json"))

    with session_scope() as session:
        chat = session.get(AnalyticsChatDaily, (sample_chat.chat_id, SENT_DAY))
        reader = session.get(AnalyticsUserDaily, (sample_chat.bob, SENT_DAY))
    assert (chat.messages_sent, chat.messages_delivered, chat.messages_read) == (1, 1, 1)
    assert chat.median_read_ms == 42_000
    assert (reader.messages_delivered, reader.messages_read, reader.median_read_ms) == (
        1,
        1,
        42_000,
    )


@pytest.mark.parametrize("function", ["analytics", "audit", "notifications"])
def test_records_delivered_twice_change_nothing_the_second_time(
    function: str, sample_chat: SampleChat
) -> None:
    event = sample_event("msk_message_lifecycle.json")
    first = invoke(function, event)
    after_first = table_state()

    second = invoke(function, copy.deepcopy(event))

    assert first["processed"] > 0
    assert second["processed"] == 0
    assert second["duplicates"] == first["processed"]
    assert table_state() == after_first


def test_audit_records_every_domain_event_and_announces_it(sample_chat: SampleChat) -> None:
    invoke("audit", sample_event("msk_message_lifecycle.json"))

    with session_scope() as session:
        logged = session.scalars(select(AuditLog).order_by(AuditLog.occurred_at)).all()
    assert [row.event_type for row in logged] == [
        catalog.MESSAGE_CREATED,
        catalog.MESSAGE_DELIVERED,
        catalog.MESSAGE_READ,
    ]
    assert {row.key for row in logged} == {str(sample_chat.chat_id)}
    audited = events_of(catalog.AUDIT_EVENT)
    assert sorted(e.data["eventId"] for e in audited) == sorted(str(r.event_id) for r in logged)


def test_a_recipient_without_a_live_connection_is_notified(sample_chat: SampleChat) -> None:
    sent: list = []

    class RecordingSender:
        channel = "test"

        def send(self, notification) -> None:
            sent.append(notification)

    notifications.use_sender(RecordingSender())
    try:
        invoke("notifications", sample_event("kafka_message_created.json"))
    finally:
        notifications.use_sender(None)

    with session_scope() as session:
        (row,) = session.scalars(select(Notification)).all()
    assert (row.user_id, row.message_id, row.status, row.channel) == (
        sample_chat.bob,
        sample_chat.message_id,
        "sent",
        "test",
    )
    (requested,) = events_of(catalog.NOTIFICATION_REQUESTED)
    assert requested.key == str(sample_chat.bob)
    assert requested.data["preview"] == "Lunch at noon?"
    assert [n.user_id for n in sent] == [sample_chat.bob]


def test_a_recipient_with_a_live_connection_is_not_notified(sample_chat: SampleChat) -> None:
    connections.add(connections.Connection("Ab3dEfGhIjk=", sample_chat.bob, time.time()))

    outcome = invoke("notifications", sample_event("kafka_message_created.json"))

    assert outcome["processed"] == 1
    with session_scope() as session:
        assert session.scalars(select(Notification)).all() == []
        # Nothing to do, so no transaction: the record leaves no trace
        assert session.scalars(select(ProcessedEvent)).all() == []
    assert events_of(catalog.NOTIFICATION_REQUESTED) == []


def test_a_record_delivered_again_once_its_recipient_left_notifies_them(
    sample_chat: SampleChat,
) -> None:
    connections.add(connections.Connection("Ab3dEfGhIjk=", sample_chat.bob, time.time()))
    invoke("notifications", sample_event("kafka_message_created.json"))
    connections.remove("Ab3dEfGhIjk=")

    invoke("notifications", sample_event("kafka_message_created.json"))
    invoke("notifications", sample_event("kafka_message_created.json"))

    with session_scope() as session:
        (row,) = session.scalars(select(Notification)).all()
    assert row.user_id == sample_chat.bob
    assert len(events_of(catalog.NOTIFICATION_REQUESTED)) == 1


def test_a_record_that_keeps_failing_is_dead_lettered_and_the_batch_goes_on(
    sample_chat: SampleChat,
) -> None:
    # Given a batch whose first record is not an envelope
    event = sample_event("msk_message_lifecycle.json")
    (broken,) = event["records"]["message.created-1"]
    broken["value"] = base64.b64encode(b'{"not": "an envelope"}').decode()

    outcome = invoke("analytics", event)

    # Then the other records were applied and the broken one went to the dead letters
    assert outcome == {"processed": 2, "duplicates": 0, "ignored": 0, "deadLettered": 1}
    (letter,) = events_of(catalog.SYSTEM_DEADLETTER)
    assert letter.data["consumer"] == "analytics"
    assert (letter.data["topic"], letter.data["partition"], letter.data["offset"]) == (
        "message.created",
        1,
        41,
    )
    assert json.loads(letter.data["value"]) == {"not": "an envelope"}
    assert "ValidationError" in letter.data["error"]
    assert letter.data["attempts"] == 3


def _record_data(record: dict) -> dict:
    return json.loads(base64.b64decode(record["value"]))


def _with_data(record: dict, envelope: dict) -> dict:
    return {**record, "value": base64.b64encode(json.dumps(envelope).encode()).decode()}


def test_a_batch_commits_once_and_announces_each_changed_figure_once(
    sample_chat: SampleChat,
) -> None:
    # Given one message sent, delivered and read: three changes to the chat's figures
    outcome = invoke("analytics", sample_event("msk_message_lifecycle.json"))

    assert outcome == {"processed": 3, "duplicates": 0, "ignored": 0, "deadLettered": 0}
    # Then the chat's figures went out once, as they stand after the whole batch
    (chat,) = events_of(catalog.ANALYTICS_MESSAGE)
    assert (chat.data["messagesSent"], chat.data["messagesDelivered"]) == (1, 1)
    assert chat.data["messagesRead"] == 1
    users = {e.key: e.data for e in events_of(catalog.ANALYTICS_USER)}
    assert set(users) == {str(sample_chat.alice), str(sample_chat.bob)}
    assert (
        users[str(sample_chat.bob)]["messagesDelivered"],
        users[str(sample_chat.bob)]["messagesRead"],
    ) == (1, 1)


def test_a_record_failing_inside_a_batch_leaves_the_others_applied_exactly_once(
    sample_chat: SampleChat,
) -> None:
    # Given a batch whose delivery record is a valid envelope with unusable data
    event = sample_event("msk_message_lifecycle.json")
    (delivered,) = event["records"]["message.delivered-1"]
    envelope = _record_data(delivered)
    del envelope["data"]["userId"]
    event["records"]["message.delivered-1"] = [_with_data(delivered, envelope)]

    outcome = invoke("analytics", event)

    # Then the batch went again record by record: the delivery was dead-lettered,
    # the other two were applied once (the failed attempt as a whole left nothing)
    assert outcome == {"processed": 2, "duplicates": 0, "ignored": 0, "deadLettered": 1}
    with session_scope() as session:
        chat = session.get(AnalyticsChatDaily, (sample_chat.chat_id, SENT_DAY))
    assert (chat.messages_sent, chat.messages_delivered, chat.messages_read) == (1, 0, 1)
    (letter,) = events_of(catalog.SYSTEM_DEADLETTER)
    assert letter.data["topic"] == "message.delivered"


@pytest.mark.parametrize("function", ["analytics", "audit"])
def test_the_same_event_twice_in_one_batch_counts_once(
    function: str, sample_chat: SampleChat
) -> None:
    event = sample_event("msk_message_lifecycle.json")
    (created,) = event["records"]["message.created-1"]
    event["records"]["message.created-1"] = [created, {**created, "offset": created["offset"] + 1}]

    outcome = invoke(function, event)

    assert (outcome["processed"], outcome["duplicates"]) == (3, 1)
    with session_scope() as session:
        logged = session.scalars(select(AuditLog)).all()
        chat = session.get(AnalyticsChatDaily, (sample_chat.chat_id, SENT_DAY))
    if function == "audit":
        assert sorted(row.event_type for row in logged) == sorted(
            [catalog.MESSAGE_CREATED, catalog.MESSAGE_DELIVERED, catalog.MESSAGE_READ]
        )
    else:
        assert chat.messages_sent == 1
