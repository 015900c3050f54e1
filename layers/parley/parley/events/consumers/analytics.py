"""Analytics: per chat and per user per day, messages sent, delivered and read,
and the median time from send to read.

- `message.created` counts one sent for the chat and for the sender (day of sending);
- `message.delivered` one delivered for the chat and for the recipient (day of delivery);
- `message.read` turns every message the reader receives up to `upToSeq` and
  had not read yet into a read sample (day of reading, milliseconds since
  sent); the read count and median of a chat or reader for a day are computed
  from those samples, so they come out the same however often they are rebuilt.

Once a batch's changes are applied, the new figures of each chat and user
they touched go out as `analytics.message` (the chat) and `analytics.user`
(the user), through the outbox: once per chat or user and day, however many
of the batch's records changed them.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import TextClause, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from parley.db.arrays import uuid_array
from parley.db.models import AnalyticsChatDaily, AnalyticsReadSample, AnalyticsUserDaily
from parley.events import catalog
from parley.events.consumers.base import Consumer, lambda_handler
from parley.events.envelope import Envelope
from parley.events.models import (
    AnalyticsMessage,
    AnalyticsUser,
    MessageCreated,
    MessageDelivered,
    MessageRead,
)
from parley.events.outbox import emit

NAME = "analytics"
TOPICS = frozenset({catalog.MESSAGE_CREATED, catalog.MESSAGE_DELIVERED, catalog.MESSAGE_READ})
TABLES = (AnalyticsChatDaily, AnalyticsUserDaily, AnalyticsReadSample)

Daily = type[AnalyticsChatDaily] | type[AnalyticsUserDaily]

# What a transaction's records change, applied once they are all in (`settle`):
# counts to add per (table, owner, day), and the read figures to recompute.
COUNTS_OWED = "parley.analytics.counts_owed"
READS_OWED = "parley.analytics.reads_owed"
COUNTED = ("messages_sent", "messages_delivered")
FIGURES = ("messages_sent", "messages_delivered", "messages_read", "median_read_ms")


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _owner_column(table: Daily) -> str:
    return "chat_id" if table is AnalyticsChatDaily else "user_id"


def _count(session: Session, table: Daily, owner: uuid.UUID, day: date, column: str) -> None:
    counts = session.info.setdefault(COUNTS_OWED, {})
    counts.setdefault((table, owner, day), Counter())[column] += 1


def _owe_reads(session: Session, table: Daily, owner: uuid.UUID, day: date) -> None:
    session.info.setdefault(READS_OWED, {})[(table, owner, day)] = None


def settle(session: Session) -> None:
    """Apply what the transaction's records changed, then announce the new figures.

    Rows are written table by table in key order, the same order in every
    transaction, so that concurrent batches wait for each other instead of
    deadlocking. Each write returns its rows as they now stand: the figures
    announced.
    """
    counts = session.info.pop(COUNTS_OWED, {})
    reads = session.info.pop(READS_OWED, {})
    current: dict[tuple[Daily, uuid.UUID, date], Mapping[str, Any]] = {}
    for table in (AnalyticsChatDaily, AnalyticsUserDaily):
        owed = sorted((owner, day) for (of, owner, day) in counts if of is table)
        if owed:
            added = [counts[(table, owner, day)] for owner, day in owed]
            for row in _add_counts(session, table, owed, added):
                current[(table, row["owner"], row["day"])] = row
        for owner, day in sorted((owner, day) for (of, owner, day) in reads if of is table):
            current[(table, owner, day)] = _refresh_reads(session, table, owner, day)
    for key in dict.fromkeys([*counts, *reads]):
        _publish_figures(session, key, current[key])


def _upsert_counts(table: Daily) -> TextClause:
    owner = _owner_column(table)
    return text(
        f"""
        INSERT INTO {table.__tablename__} AS daily ({owner}, day, {", ".join(COUNTED)})
        SELECT * FROM unnest(
            CAST(:owners AS uuid[]), CAST(:days AS date[]),
            CAST(:sent AS integer[]), CAST(:delivered AS integer[])
        )
        ON CONFLICT ({owner}, day) DO UPDATE SET
            {", ".join(f"{column} = daily.{column} + excluded.{column}" for column in COUNTED)}
        RETURNING {owner} AS owner, day, {", ".join(FIGURES)}
        """
    )


# One statement of a fixed text per table, whatever the number of rows (a
# multi-row VALUES would be compiled anew for every batch size).
_ADD_COUNTS = {table: _upsert_counts(table) for table in (AnalyticsChatDaily, AnalyticsUserDaily)}


def _add_counts(
    session: Session, table: Daily, keys: list[tuple[uuid.UUID, date]], added: list[Counter]
) -> list[Mapping[str, Any]]:
    return list(
        session.execute(
            _ADD_COUNTS[table],
            {
                "owners": uuid_array(owner for owner, _ in keys),
                "days": [day for _, day in keys],
                "sent": [counter["messages_sent"] for counter in added],
                "delivered": [counter["messages_delivered"] for counter in added],
            },
        ).mappings()
    )


def _refresh_reads(
    session: Session, table: Daily, owner: uuid.UUID, day: date
) -> Mapping[str, Any]:
    samples = AnalyticsReadSample
    owner_sample = samples.chat_id if table is AnalyticsChatDaily else samples.reader_id
    owner_column = _owner_column(table)
    count, median = session.execute(
        select(
            func.count(),
            func.percentile_cont(0.5).within_group(samples.read_ms),
        ).where(owner_sample == owner, samples.day == day)
    ).one()
    median_ms = round(median) if median is not None else None
    columns = table.__table__.c
    return (
        session.execute(
            insert(table)
            .values(
                {
                    owner_column: owner,
                    "day": day,
                    "messages_read": count,
                    "median_read_ms": median_ms,
                }
            )
            .on_conflict_do_update(
                index_elements=[owner_column, "day"],
                set_={"messages_read": count, "median_read_ms": median_ms},
            )
            .returning(*(columns[name] for name in ("day", *FIGURES)))
        )
        .mappings()
        .one()
    )


def _publish_figures(
    session: Session, key: tuple[Daily, uuid.UUID, date], row: Mapping[str, Any]
) -> None:
    """One chat's or user's figures of one day, as they now stand."""
    table, owner, _ = key
    if table is AnalyticsChatDaily:
        figures = AnalyticsMessage(chat_id=owner, **_figures(row))
        event_type = catalog.ANALYTICS_MESSAGE
    else:
        figures = AnalyticsUser(user_id=owner, **_figures(row))
        event_type = catalog.ANALYTICS_USER
    emit(session, event_type, owner, figures.model_dump(mode="json", by_alias=True))


def _figures(row: Mapping[str, Any]) -> dict:
    return {"day": row["day"], **{name: row[name] for name in FIGURES}}


def on_created(session: Session, envelope: Envelope) -> None:
    message = MessageCreated.model_validate(envelope.data)
    day = _day(message.created_at or envelope.occurred_at)
    _count(session, AnalyticsChatDaily, message.chat_id, day, "messages_sent")
    _count(session, AnalyticsUserDaily, message.sender_id, day, "messages_sent")


def on_delivered(session: Session, envelope: Envelope) -> None:
    delivered = MessageDelivered.model_validate(envelope.data)
    day = _day(delivered.at)
    _count(session, AnalyticsChatDaily, delivered.chat_id, day, "messages_delivered")
    _count(session, AnalyticsUserDaily, delivered.user_id, day, "messages_delivered")


# Messages the reader received in the chat up to `up_to`, above the highest
# one already sampled for them there (reading marks every earlier message).
_SAMPLE_READS = text(
    """
    INSERT INTO analytics_read_samples (message_id, reader_id, chat_id, sender_id, day, read_ms)
    SELECT m.id, r.user_id, m.chat_id, m.sender_id, :day,
           GREATEST(0, (EXTRACT(EPOCH FROM (:at - m.created_at)) * 1000)::bigint)
    FROM receipts r JOIN messages m ON m.id = r.message_id
    WHERE r.user_id = :reader AND r.chat_id = :chat AND r.seq <= :up_to
      AND r.seq > COALESCE((
          SELECT MAX(sampled.seq)
          FROM analytics_read_samples s JOIN messages sampled ON sampled.id = s.message_id
          WHERE s.reader_id = :reader AND s.chat_id = :chat), 0)
    ON CONFLICT DO NOTHING
    """
)


def on_read(session: Session, envelope: Envelope) -> None:
    read = MessageRead.model_validate(envelope.data)
    day = _day(read.at)
    session.execute(
        _SAMPLE_READS,
        {
            "day": day,
            "at": read.at,
            "reader": read.user_id,
            "chat": read.chat_id,
            "up_to": read.up_to_seq if read.up_to_seq is not None else read.seq,
        },
    )
    _owe_reads(session, AnalyticsChatDaily, read.chat_id, day)
    _owe_reads(session, AnalyticsUserDaily, read.user_id, day)


HANDLERS = {
    catalog.MESSAGE_CREATED: on_created,
    catalog.MESSAGE_DELIVERED: on_delivered,
    catalog.MESSAGE_READ: on_read,
}


def apply(session: Session, envelope: Envelope) -> None:
    HANDLERS[envelope.type](session, envelope)


CONSUMER = Consumer(NAME, TOPICS, apply, whole_batches=True, settle=settle)
handler = lambda_handler(CONSUMER)
