"""The transactional outbox: events are rows written with the change they describe."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from parley.config import get_settings
from parley.db.models import OutboxEvent
from parley.events.catalog import topic
from parley.events.envelope import Envelope


def emit(
    session: Session,
    event_type: str,
    key: uuid.UUID | str,
    data: dict[str, Any],
    *,
    version: int = 1,
) -> Envelope:
    """Write one event in the caller's transaction; it is published after commit.

    `event_type` is a catalog name (``message.created``...), `key` the chat id
    for chat and message events and the user id for user events. `data` is
    JSON-ready (camelCase keys, ids and times as strings).
    """
    topic(event_type)  # refuse a name that is not in the catalog
    envelope = Envelope(
        type=event_type,
        version=version,
        source=get_settings().event_source,
        key=str(key),
        data=data,
    )
    session.add(
        OutboxEvent(
            event_id=envelope.id,
            topic=event_type,
            key=envelope.key,
            payload=envelope.to_json(),
        )
    )
    return envelope
