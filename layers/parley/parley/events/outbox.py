"""The transactional outbox: events are rows written with the change they describe.

`emit` adds the event to the caller's transaction; just before it commits,
`write` inserts all of that transaction's events in one statement. Once the
transaction has committed, its unit of work (`parley.db.session`) publishes
its own rows, after the frames to live connections have left (see
`publisher`); what it could not publish stays for the relay. All outbox SQL
lives here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Connection, func, select, text, tuple_, update
from sqlalchemy.orm import Session

from parley.config import get_settings
from parley.db.arrays import uuid_array
from parley.db.models import OutboxEvent
from parley.db.session import PENDING_EVENTS
from parley.events.catalog import topic
from parley.events.envelope import Envelope
from parley.events.models import parse_data

outbox = OutboxEvent.__table__


def emit(
    session: Session,
    event_type: str,
    key: uuid.UUID | str,
    data: dict[str, Any],
    *,
    version: int = 1,
) -> Envelope:
    """Add one event to the caller's transaction; it is published after commit.

    `event_type` is a catalog name (``message.created``...), `key` the chat id
    for chat and message events and the user id for user events. `data` is
    JSON-ready (camelCase keys, ids and times as strings); it is checked
    against the type's model in `parley.events.models` (extra fields pass),
    and `InvalidEventData` (a ValueError) names what does not match.
    """
    topic(event_type)  # refuse a name that is not in the catalog
    parse_data(event_type, version, data)
    envelope = Envelope(
        type=event_type,
        version=version,
        source=get_settings().event_source,
        key=str(key),
        data=to_jsonable_python(data),
    )
    session.info.setdefault(PENDING_EVENTS, []).append(
        PendingEvent(envelope.id, event_type, envelope.key, envelope.to_json())
    )
    return envelope


# --- Reading rows --------------------------------------------------------------


@dataclass(frozen=True)
class OutboxRow:
    id: int
    event_id: uuid.UUID
    topic: str
    key: str
    payload: dict[str, Any]


def pending_events(session_or_connection: Session | Connection) -> list[Envelope]:
    """Every unpublished event, oldest first (what the relay still owes Kafka)."""
    rows = session_or_connection.execute(
        select(outbox.c.payload).where(outbox.c.published_at.is_(None)).order_by(outbox.c.id)
    )
    return [Envelope.model_validate(payload) for (payload,) in rows]


def all_events(session_or_connection: Session | Connection) -> list[Envelope]:
    """Every event in the outbox, published or not, oldest first."""
    rows = session_or_connection.execute(select(outbox.c.payload).order_by(outbox.c.id))
    return [Envelope.model_validate(payload) for (payload,) in rows]


def _rows(result: Iterable[Any]) -> list[OutboxRow]:
    return [OutboxRow(r.id, r.event_id, r.topic, r.key, r.payload) for r in result]


_COLUMNS = (outbox.c.id, outbox.c.event_id, outbox.c.topic, outbox.c.key, outbox.c.payload)


# A stream is a (topic, key): Kafka keeps the order of one key within one
# topic (its partition), and so does the outbox; across topics there is none
# to keep, so an event never waits for another topic's rows of its key.
Stream = tuple[str, str]


def stream_of(row: OutboxRow | PendingEvent) -> Stream:
    return (row.topic, row.key)


_STREAM = tuple_(outbox.c.topic, outbox.c.key)


# --- Writing rows --------------------------------------------------------------


@dataclass(frozen=True)
class PendingEvent:
    """An event emitted in a transaction still open: its row is written at commit."""

    event_id: uuid.UUID
    topic: str
    key: str
    payload: dict[str, Any]


# A transaction's events in one statement, in the order they were emitted,
# each with whether its stream owes unpublished rows older than
# `owed_before` (the unit of work's first row; this statement's first when
# the unit has none yet): those must reach the broker first.
_WRITE = text(
    """
    WITH written AS (
        INSERT INTO outbox (event_id, topic, key, payload)
        SELECT event_id, topic, key, payload
        FROM ROWS FROM (
            unnest(CAST(:event_ids AS uuid[])),
            unnest(CAST(:topics AS varchar[])),
            unnest(CAST(:keys AS varchar[])),
            -- One JSON array, not a jsonb[]: psycopg would escape every quote
            -- of every payload (a big group's message holds a thousand ids).
            jsonb_array_elements(CAST(:payloads AS jsonb))
        ) WITH ORDINALITY AS event (event_id, topic, key, payload, position)
        ORDER BY position
        RETURNING id, event_id, topic, key
    )
    SELECT written.id, written.event_id, EXISTS (
        SELECT FROM outbox AS older
        WHERE older.published_at IS NULL
          AND older.topic = written.topic
          AND older.key = written.key
          AND older.id < LEAST(CAST(:owed_before AS bigint), (SELECT min(id) FROM written))
    ) AS owing
    FROM written
    """
)


def write(
    connection: Connection, events: Sequence[PendingEvent], owed_before: int | None
) -> tuple[list[OutboxRow], set[Stream]]:
    """Insert a committing transaction's events: their rows, and the streams that
    owe unpublished rows older than `owed_before` (or than the first of these)."""
    result = connection.execute(
        _WRITE,
        {
            "event_ids": uuid_array(event.event_id for event in events),
            "topics": [event.topic for event in events],
            "keys": [event.key for event in events],
            "payloads": json.dumps([event.payload for event in events]),
            "owed_before": owed_before,
        },
    )
    written = {event_id: (row_id, owes) for row_id, event_id, owes in result}
    rows = [
        OutboxRow(written[event.event_id][0], event.event_id, event.topic, event.key, event.payload)
        for event in events
    ]
    owing = {stream_of(row) for row in rows if written[row.event_id][1]}
    return rows, owing


# --- Claiming rows -------------------------------------------------------------


def claim_oldest(connection: Connection, limit: int) -> list[OutboxRow]:
    """Lock the oldest unpublished rows no one else holds, then drop every stream
    that has an older row held elsewhere: a stream is published in order or not at all."""
    claimed = _rows(
        connection.execute(
            select(*_COLUMNS)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not claimed:
        return []
    return _without_keys_held_elsewhere(connection, claimed)


def claim_for_keys(
    connection: Connection, event_ids: Sequence[uuid.UUID], cap: int
) -> list[OutboxRow] | None:
    """Lock the given rows and every older unpublished row of their streams, in order.

    None when those streams owe more than `cap` rows (a backlog: the relay's job).
    Rows of a rolled-back savepoint simply are not found.
    """
    newest = select(func.max(outbox.c.id)).where(outbox.c.event_id.in_(event_ids)).scalar_subquery()
    streams = select(outbox.c.topic, outbox.c.key).where(outbox.c.event_id.in_(event_ids))
    claimed = _rows(
        connection.execute(
            select(*_COLUMNS)
            .where(
                outbox.c.published_at.is_(None),
                outbox.c.id <= newest,
                _STREAM.in_(streams),
            )
            .order_by(outbox.c.id)
            .limit(cap + 1)
            .with_for_update(skip_locked=True)
        )
    )
    if len(claimed) > cap:
        return None
    if not claimed:
        return []
    return _without_keys_held_elsewhere(connection, claimed)


def _without_keys_held_elsewhere(
    connection: Connection, claimed: list[OutboxRow]
) -> list[OutboxRow]:
    ids = [row.id for row in claimed]
    streams = sorted({stream_of(row) for row in claimed})
    # Unpublished rows of our streams, older than our newest, that we could not
    # lock: another publisher holds them right now.
    held = connection.execute(
        select(outbox.c.topic, outbox.c.key)
        .distinct()
        .where(
            outbox.c.published_at.is_(None),
            outbox.c.id < max(ids),
            _STREAM.in_(streams),
            outbox.c.id.not_in(ids),
        )
    )
    blocked = {(topic, key) for topic, key in held}
    return [row for row in claimed if stream_of(row) not in blocked]


# One array parameter, not an IN list expanded and compiled anew for every count.
_MARK_PUBLISHED = text(
    """
    UPDATE outbox SET published_at = now()
    WHERE event_id = ANY(CAST(:event_ids AS uuid[])) AND published_at IS NULL
    """
)


def mark_published(connection: Connection, event_ids: Sequence[uuid.UUID | str]) -> None:
    if event_ids:
        connection.execute(_MARK_PUBLISHED, {"event_ids": uuid_array(event_ids)})


def mark_failed(connection: Connection, event_ids: Sequence[uuid.UUID | str]) -> None:
    if event_ids:
        connection.execute(
            update(outbox)
            .where(outbox.c.event_id.in_(_uuids(event_ids)))
            .values(attempts=outbox.c.attempts + 1)
        )


def _uuids(event_ids: Sequence[uuid.UUID | str]) -> list[uuid.UUID]:
    return [e if isinstance(e, uuid.UUID) else uuid.UUID(e) for e in event_ids]


def unpublished_count(connection: Connection) -> int:
    return connection.execute(
        select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
    ).scalar_one()


def oldest_unpublished_age(connection: Connection) -> float | None:
    """Seconds since the oldest unpublished row was written; None when all are published."""
    oldest = (
        select(outbox.c.created_at)
        .where(outbox.c.published_at.is_(None))
        .order_by(outbox.c.id)
        .limit(1)
        .scalar_subquery()
    )
    age = connection.execute(select(func.extract("epoch", func.now() - oldest))).scalar_one()
    return None if age is None else float(age)
