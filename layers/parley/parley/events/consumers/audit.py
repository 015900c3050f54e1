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


def record(session: Session, envelope: Envelope) -> None:
    audit_id = session.execute(
        insert(AuditLog)
        .values(
            event_id=envelope.id,
            event_type=envelope.type,
            key=envelope.key,
            source=envelope.source,
            occurred_at=envelope.occurred_at,
            data=envelope.data,
        )
        .on_conflict_do_nothing(index_elements=[AuditLog.event_id])
        .returning(AuditLog.id)
    ).scalar_one_or_none()
    if audit_id is None:
        return  # recorded already (the log is append-only: never rewritten)
    audited = AuditEvent(
        audit_id=audit_id,
        event_id=envelope.id,
        event_type=envelope.type,
        key=envelope.key,
        source=envelope.source,
        occurred_at=envelope.occurred_at,
    )
    emit(session, catalog.AUDIT_EVENT, envelope.key, audited.model_dump(mode="json", by_alias=True))


CONSUMER = Consumer(NAME, frozenset(catalog.DOMAIN_TOPICS), record, whole_batches=True)
handler = lambda_handler(CONSUMER)
