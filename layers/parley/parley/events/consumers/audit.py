"""Audit: every domain event into the append-only `audit_log`, then `audit.event`."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from parley.db.arrays import uuid_array
from parley.events import catalog
from parley.events.consumers.base import Consumer, lambda_handler
from parley.events.envelope import Envelope
from parley.events.models import AuditEvent
from parley.events.outbox import emit

NAME = "audit"


# The envelopes a transaction's records brought, written together by `settle`.
AUDIT_OWED = "parley.audit.owed"


def record(session: Session, envelope: Envelope) -> None:
    session.info.setdefault(AUDIT_OWED, []).append(envelope)


# The whole batch in one statement of a fixed text (a multi-row VALUES would be
# compiled anew for every batch size), in the order the events came.
_LOG = text(
    """
    INSERT INTO audit_log (event_id, event_type, key, source, occurred_at, data)
    SELECT event_id, event_type, key, source, occurred_at, data
    FROM ROWS FROM (
        unnest(CAST(:event_ids AS uuid[])),
        unnest(CAST(:types AS varchar[])),
        unnest(CAST(:keys AS varchar[])),
        unnest(CAST(:sources AS varchar[])),
        unnest(CAST(:occurred AS timestamptz[])),
        jsonb_array_elements(CAST(:data AS jsonb))
    ) WITH ORDINALITY AS event (event_id, event_type, key, source, occurred_at, data, position)
    ORDER BY position
    -- Recorded already: the log is append-only, never rewritten.
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id, id
    """
)


def settle(session: Session) -> None:
    """Write the transaction's events into the log in one statement, and announce each."""
    envelopes = session.info.pop(AUDIT_OWED, [])
    if not envelopes:
        return
    logged = dict(
        session.execute(
            _LOG,
            {
                "event_ids": uuid_array(envelope.id for envelope in envelopes),
                "types": [envelope.type for envelope in envelopes],
                "keys": [envelope.key for envelope in envelopes],
                "sources": [envelope.source for envelope in envelopes],
                "occurred": [envelope.occurred_at for envelope in envelopes],
                "data": json.dumps([envelope.data for envelope in envelopes]),
            },
        ).all()
    )
    for envelope in envelopes:
        audit_id = logged.pop(envelope.id, None)
        if audit_id is None:
            continue
        audited = AuditEvent(
            audit_id=audit_id,
            event_id=envelope.id,
            event_type=envelope.type,
            key=envelope.key,
            source=envelope.source,
            occurred_at=envelope.occurred_at,
        )
        emit(
            session,
            catalog.AUDIT_EVENT,
            envelope.key,
            audited.model_dump(mode="json", by_alias=True),
        )


CONSUMER = Consumer(
    NAME, frozenset(catalog.DOMAIN_TOPICS), record, whole_batches=True, settle=settle
)
handler = lambda_handler(CONSUMER)
