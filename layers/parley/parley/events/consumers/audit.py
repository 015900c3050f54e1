"""Audit: every domain event into the append-only `audit_log`, then `audit.event`."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from parley.db.models import AuditLog
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


def settle(session: Session) -> None:
    """Write the transaction's events into the log in one statement, and announce each."""
    envelopes = session.info.pop(AUDIT_OWED, [])
    if not envelopes:
        return
    logged = dict(
        session.execute(
            insert(AuditLog)
            .values(
                [
                    {
                        "event_id": envelope.id,
                        "event_type": envelope.type,
                        "key": envelope.key,
                        "source": envelope.source,
                        "occurred_at": envelope.occurred_at,
                        "data": envelope.data,
                    }
                    for envelope in envelopes
                ]
            )
            # Recorded already: the log is append-only, never rewritten.
            .on_conflict_do_nothing(index_elements=[AuditLog.event_id])
            .returning(AuditLog.event_id, AuditLog.id)
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
