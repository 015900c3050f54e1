"""The broker stalls or dies while changes commit: every event still reaches its topic.

Changes keep committing through the outage (publishing never fails a
commit); once the broker is back the relay and the producer recover by
themselves, with no restart of anything: every committed change's event is
on its topic, one event id per change, and the next commit publishes at once.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter

from sqlalchemy import select

from parley.db import session_scope
from parley.db.models import OutboxEvent
from parley.events import catalog, emit
from parley.events.relay import relay
from tests.faults.conftest import Fault
from tests.support.topics import read_topics


def login() -> str:
    """One committed change with its event; returns the event id."""
    user_id = uuid.uuid4()
    with session_scope() as session:
        envelope = emit(session, catalog.USER_LOGGED_IN, user_id, {"userId": str(user_id)})
    return str(envelope.id)


def commit_for(seconds: float) -> list[str]:
    """Changes committed one after the other for `seconds`, a few per second."""
    ids = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        ids.append(login())
        time.sleep(0.2)
    return ids


def relay_until_drained(runs: int = 30) -> int:
    """The relay's schedule: run it until nothing is left (or `runs` runs)."""
    remaining = -1
    for _ in range(runs):
        remaining = relay(max_seconds=15).remaining
        if remaining == 0:
            break
        time.sleep(1)
    return remaining


def commits_until_one_publishes_at_once(attempts: int = 40) -> list[str]:
    """After a failure commits leave events to the relay for a while (a backoff);
    then they publish at once again. The ids committed until one did."""
    ids = []
    for _ in range(attempts):
        ids.append(login())
        if published_at_commit(ids[-1]):
            break
        time.sleep(0.5)
    relay_until_drained()
    return ids


def published_at_commit(event_id: str) -> bool:
    with session_scope() as session:
        return (
            session.scalar(
                select(OutboxEvent.published_at).where(OutboxEvent.event_id == uuid.UUID(event_id))
            )
            is not None
        )


def assert_each_on_its_topic_once(event_ids: list[str]) -> None:
    wanted = set(event_ids)
    counts = Counter(
        json.loads(record.value())["id"]
        for record in read_topics([catalog.USER_LOGGED_IN])
        if json.loads(record.value())["id"] in wanted
    )
    assert set(counts) == wanted  # none missing
    # A copy already on the wire when its producer was given up may come twice
    # (consumers are idempotent on the id); never more than that.
    assert max(counts.values()) <= 2


def outage_then_recovery(broker: Fault, outage: float, *, kill: bool = False) -> None:
    before = [login() for _ in range(5)]
    assert all(published_at_commit(event_id) for event_id in before)  # a warm producer

    if kill:
        broker.kill()
    else:
        broker.pause()
    during = commit_for(outage)
    if kill:
        broker.start_again()
    else:
        broker.resume()

    assert relay_until_drained() == 0
    after = commits_until_one_publishes_at_once()
    assert published_at_commit(after[-1])  # the producer works again, without a restart
    assert_each_on_its_topic_once(during + after + ([] if kill else before))


def test_a_broker_paused_20_s_loses_no_event_and_publishing_recovers(own_broker: Fault) -> None:
    outage_then_recovery(own_broker, 20)


def test_a_broker_killed_and_restarted_loses_no_event_and_publishing_recovers(
    own_broker: Fault,
) -> None:
    outage_then_recovery(own_broker, 10, kill=True)
