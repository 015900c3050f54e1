"""Reading a chat: history pages, pins, and the status each message shows."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from parley.chat.membership import require_member
from parley.chat.views import message_view
from parley.db.models import Message, Receipt, ReceiptStatus

HISTORY_PAGE_DEFAULT = 50
HISTORY_PAGE_MAX = 100


@dataclass(frozen=True)
class HistoryPage:
    messages: list[dict[str, Any]]
    # Pass as `before` to get the previous page; None once the chat's start is reached.
    next_before: int | None


def aggregate_statuses(
    session: Session, message_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ReceiptStatus]:
    """Each message's least advanced receipt status (messages with no recipient are left out)."""
    ids = list(message_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Receipt.message_id, func.min(Receipt.status))
        .where(Receipt.message_id.in_(ids))
        .group_by(Receipt.message_id)
    )
    return {message_id: ReceiptStatus(status) for message_id, status in rows}


def visible_message_view(message: Message, status: int | None) -> dict[str, Any]:
    """A message as a chat's members read it: a deleted one keeps its place, not its body."""
    view = message_view(message, status if status is not None else ReceiptStatus.SENT)
    if message.deleted_at is not None:
        view["body"] = ""
    return view


def views_with_status(session: Session, messages: list[Message]) -> list[dict[str, Any]]:
    statuses = aggregate_statuses(session, (message.id for message in messages))
    return [visible_message_view(message, statuses.get(message.id)) for message in messages]


def history_page(
    session: Session,
    chat_id: uuid.UUID,
    viewer_id: uuid.UUID,
    *,
    before: int | None = None,
    limit: int = HISTORY_PAGE_DEFAULT,
) -> HistoryPage:
    """Messages newest first, up to `limit`, with seq below `before` when given."""
    require_member(session, chat_id, viewer_id)
    limit = max(1, min(limit, HISTORY_PAGE_MAX))
    statement = select(Message).where(Message.chat_id == chat_id)
    if before is not None:
        statement = statement.where(Message.seq < before)
    # One row more than asked tells whether an earlier page exists.
    rows = list(session.scalars(statement.order_by(Message.seq.desc()).limit(limit + 1)))
    page, has_more = rows[:limit], len(rows) > limit
    return HistoryPage(
        messages=views_with_status(session, page),
        next_before=page[-1].seq if has_more else None,
    )


def pinned_messages(
    session: Session, chat_id: uuid.UUID, viewer_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The chat's pinned messages, most recently pinned first."""
    require_member(session, chat_id, viewer_id)
    messages = list(
        session.scalars(
            select(Message)
            .where(Message.chat_id == chat_id, Message.is_pinned.is_(True))
            .order_by(Message.pinned_at.desc().nulls_last(), Message.seq.desc())
        )
    )
    return views_with_status(session, messages)
