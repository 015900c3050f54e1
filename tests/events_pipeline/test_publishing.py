"""Publishing: at once after commit, and by the relay for whatever is left."""

from __future__ import annotations

import json
import os
import signal
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from parley.db import get_engine, session_scope
from parley.events import catalog, emit, publisher
from parley.events.kafka import ensure_topics
from parley.events.outbox import all_events, pending_events
from parley.events.relay import relay
from parley_dev.services import RunningService, start_kafka
from tests.support.clients import reset_clients
from tests.support.topics import read_topics

DOMAIN = list(catalog.DOMAIN_TOPICS)


def login(user_id: uuid.UUID | str) -> str:
    """One committed change with its event; returns the event id."""
    with session_scope() as session:
        envelope = emit(session, catalog.USER_LOGGED_IN, user_id, {"userId": str(user_id)})
    return str(envelope.id)


def ids_on(topic: str, key: uuid.UUID | str | None = None) -> list[str]:
    """Envelope ids on `topic` (with `key` only, when given), in log order."""
    return [
        json.loads(m.value())["id"]
        for m in read_topics([topic])
        if key is None or m.key() == str(key).encode()
    ]


def test_a_committed_event_is_published_at_once_with_its_headers() -> None:
    user_id = uuid.uuid4()
    event_id = login(user_id)

    (record,) = [
        m for m in read_topics([catalog.USER_LOGGED_IN]) if m.key() == str(user_id).encode()
    ]
    assert json.loads(record.value())["id"] == event_id
    assert dict(record.headers()) == {
        "type": b"user.logged_in",
        "version": b"1",
        "id": event_id.encode(),
    }
    with session_scope() as session:
        assert pending_events(session) == []


def test_a_unit_of_works_transactions_publish_their_events_in_order_at_commit() -> None:
    from parley.db.session import unit_of_work

    user_id = uuid.uuid4()
    data = {"userId": str(user_id)}
    with unit_of_work() as work:
        first = emit(work.session, catalog.USER_LOGGED_IN, user_id, data)

        def follow_up() -> None:
            # Its key still owes the first event (on the wire, not yet marked):
            # it is this unit's own, so the second goes out behind it at once.
            with work.transaction() as session:
                emit(session, catalog.USER_LOGGED_IN, user_id, data)

        work.after_commit(follow_up)

    second = [e for e in all_events_of(user_id) if e != str(first.id)]
    assert ids_on(catalog.USER_LOGGED_IN, user_id) == [str(first.id), *second]
    with session_scope() as session:
        assert pending_events(session) == []


def all_events_of(key: uuid.UUID) -> list[str]:
    with session_scope() as session:
        return [str(e.id) for e in all_events(session) if e.key == str(key)]


def test_the_relay_publishes_what_commits_left_oldest_first() -> None:
    # Given events committed while publishing at commit is paused
    publisher.pause_publishing(60)
    user_id = uuid.uuid4()
    event_ids = [login(user_id) for _ in range(5)]
    with session_scope() as session:
        assert [str(e.id) for e in pending_events(session)] == event_ids

    # When the relay runs
    result = relay()

    # Then every row is published once, in order on the key's partition
    assert (result.published, result.remaining) == (5, 0)
    on_topic = [
        json.loads(m.value())["id"]
        for m in read_topics([catalog.USER_LOGGED_IN])
        if m.key() == str(user_id).encode()
    ]
    assert on_topic == event_ids


def test_a_commit_publishes_older_unpublished_rows_of_its_key_first() -> None:
    # Given an older event of the key that failed to publish
    publisher.pause_publishing(60)
    user_id = uuid.uuid4()
    older = login(user_id)
    publisher.resume_publishing()

    # When a newer event of that key commits
    newer = login(user_id)

    # Then both are on the topic, older first
    on_topic = [
        json.loads(m.value())["id"]
        for m in read_topics([catalog.USER_LOGGED_IN])
        if m.key() == str(user_id).encode()
    ]
    assert on_topic == [older, newer]


@contextmanager
def held_unpublished_login(user_id: uuid.UUID) -> Iterator[str]:
    """A login event left unpublished, its row locked by another publisher until exit."""
    publisher.pause_publishing(60)
    older = login(user_id)
    publisher.resume_publishing()
    with get_engine().connect() as holder:
        holder.execute(
            text("SELECT id FROM outbox WHERE event_id = :id FOR UPDATE"), {"id": uuid.UUID(older)}
        )
        try:
            yield older
        finally:
            holder.rollback()


def test_a_key_whose_older_row_is_held_by_another_publisher_waits_behind_it() -> None:
    user_id = uuid.uuid4()
    # Given an older row of the key, claimed by another publisher right now
    with held_unpublished_login(user_id) as older:
        # When a newer event of that key commits, and a relay runs meanwhile
        newer = login(user_id)
        relay()

        # Then neither was published ahead of the held row
        assert ids_on(catalog.USER_LOGGED_IN, user_id) == []

    # And once released, the relay publishes both in order
    relay()
    assert ids_on(catalog.USER_LOGGED_IN, user_id) == [older, newer]


def test_a_key_held_up_in_one_topic_does_not_hold_up_its_other_topics() -> None:
    user_id = uuid.uuid4()
    # Given a user's older event, on one topic, held by another publisher right now
    with held_unpublished_login(user_id):
        # When an event of the same key commits on another topic
        with session_scope() as session:
            online = emit(
                session,
                catalog.USER_ONLINE,
                user_id,
                {"userId": str(user_id), "at": "2025-06-02T09:15:00+00:00"},
            )

        # Then it is published at commit: Kafka orders a key within a topic only
        assert ids_on(catalog.USER_ONLINE, user_id) == [str(online.id)]
        assert ids_on(catalog.USER_LOGGED_IN, user_id) == []


def test_two_relays_at_once_never_publish_the_same_row_twice() -> None:
    publisher.pause_publishing(60)
    keys = [uuid.uuid4() for _ in range(50)]
    with session_scope() as session:
        for index in range(3000):
            user_id = keys[index % len(keys)]
            emit(session, catalog.USER_LOGGED_IN, user_id, {"userId": str(user_id)})

    runs = [threading.Thread(target=relay, kwargs={"batch_size": 200}) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    relay()  # whatever one run left behind a key the other held

    wanted = {str(key).encode() for key in keys}
    counts = Counter(
        json.loads(m.value())["id"]
        for m in read_topics([catalog.USER_LOGGED_IN])
        if m.key() in wanted
    )
    assert len(counts) == 3000
    assert set(counts.values()) == {1}


# --- No loss with the broker away ------------------------------------------------


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[RunningService]:
    """A broker of this test's own, so it can be stopped, killed and restarted."""
    broker = start_kafka(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.url)
        reset_clients()
        ensure_topics()
        try:
            yield broker
        finally:
            if broker.process.poll() is None:
                broker.process.kill()  # memory storage: nothing to shut down cleanly
                broker.process.wait()
    reset_clients()


def committed_while(count: int) -> list[str]:
    """`count` sends, one transaction each; every commit must succeed."""
    return [login(uuid.uuid4()) for _ in range(count)]


def assert_published_exactly_once(event_ids: list[str]) -> None:
    counts = Counter(i for i in ids_on(catalog.USER_LOGGED_IN) if i in set(event_ids))
    assert set(counts) == set(event_ids)  # none missing
    with session_scope() as session:
        assert pending_events(session) == []


def test_events_committed_while_the_broker_is_frozen_are_all_published(
    own_broker: RunningService,
) -> None:
    # Given a broker that stops answering
    os.kill(own_broker.process.pid, signal.SIGSTOP)

    # When 500 changes commit
    event_ids = committed_while(500)

    # Then every commit succeeded and every event waits in the outbox
    with session_scope() as session:
        assert len(all_events(session)) == 500

    # When the broker answers again and the relay runs
    os.kill(own_broker.process.pid, signal.SIGCONT)
    result = relay()

    # Then each event is on its topic (deduplicated by id), none missing
    assert result.remaining == 0
    assert_published_exactly_once(event_ids)


def test_events_committed_while_the_broker_is_dead_are_published_after_restart(
    own_broker: RunningService, tmp_path: Path
) -> None:
    # Given a broker that was killed
    own_broker.process.kill()
    own_broker.process.wait()

    # When 500 changes commit
    event_ids = committed_while(500)

    # And a new broker starts (memory storage: topics are created again)
    restarted = start_kafka(tmp_path / "restarted")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("KAFKA_BOOTSTRAP_SERVERS", restarted.url)
            reset_clients()
            ensure_topics()
            publisher.resume_publishing()
            result = relay()

            # Then the relay published every row the dead broker never acknowledged
            assert result.remaining == 0
            assert_published_exactly_once(event_ids)
    finally:
        restarted.process.kill()
        restarted.process.wait()
