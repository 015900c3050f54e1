"""Emission: events written through `emit` match the catalog and its models."""

from __future__ import annotations

import uuid

import pytest

from parley.db import session_scope
from parley.events import catalog, emit
from parley.events.catalog import KeyKind
from parley.events.models import InvalidEventData, data_model
from parley.events.outbox import all_events, pending_events
from tests.events_pipeline.samples import ALICE, CHAT, DOMAIN_EVENTS


def test_every_catalog_topic_has_a_data_model() -> None:
    assert all(data_model(topic.name) is not None for topic in catalog.TOPICS)
    assert len(catalog.TOPICS) == 21


@pytest.mark.parametrize(("event_type", "key", "data"), DOMAIN_EVENTS, ids=lambda v: str(v)[:24])
def test_emitted_event_carries_type_key_and_valid_data(event_type, key, data) -> None:
    # Given a change that emits one event, before it commits
    with session_scope() as session:
        emitted = emit(session, event_type, key, data)
        # then its row is written with the commit, not before
        assert pending_events(session) == []

    # When it commits, the stored envelope is the emitted one
    with session_scope() as session:
        (stored,) = all_events(session)
    assert stored.id == emitted.id
    assert stored.type == event_type
    assert stored.version == 1
    expected_key = CHAT if catalog.topic(event_type).key is KeyKind.CHAT else ALICE
    assert stored.key == expected_key
    assert stored.data == data
    assert data_model(event_type).model_validate(stored.data)


def test_extra_fields_in_data_are_kept() -> None:
    with session_scope() as session:
        emit(session, catalog.USER_LOGGED_IN, ALICE, {"userId": ALICE, "device": "web"})
    with session_scope() as session:
        (stored,) = all_events(session)
    assert stored.data == {"userId": ALICE, "device": "web"}


def test_data_missing_a_required_field_is_refused() -> None:
    with session_scope() as session, pytest.raises(InvalidEventData, match="username"):
        emit(session, catalog.USER_REGISTERED, ALICE, {"userId": ALICE})


def test_an_unknown_event_type_is_refused() -> None:
    with session_scope() as session, pytest.raises(ValueError, match="unknown event type"):
        emit(session, "message.exploded", CHAT, {})


def test_ids_and_times_given_as_objects_are_stored_as_json() -> None:
    user_id = uuid.uuid4()
    with session_scope() as session:
        emit(session, catalog.USER_LOGGED_IN, user_id, {"userId": user_id})
    with session_scope() as session:
        (stored,) = all_events(session)
    assert stored.data == {"userId": str(user_id)}
    assert stored.key == str(user_id)


class ChangeFailed(RuntimeError):
    pass


def test_a_rolled_back_change_leaves_no_event() -> None:
    # Given a transaction that emits and then fails
    with pytest.raises(ChangeFailed), session_scope() as session:
        emit(session, catalog.USER_LOGGED_IN, ALICE, {"userId": ALICE})
        session.flush()
        raise ChangeFailed
    # Then nothing was stored, so nothing can be published
    with session_scope() as session:
        assert all_events(session) == []
