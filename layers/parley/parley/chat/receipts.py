"""Receipts: SENT -> DELIVERED -> READ per recipient, and the aggregate per message.

A receipt only moves forward. The aggregate status of a message is the least
advanced over its recipients; it is reported to the sender whenever it
changes. Changing receipts locks the messages concerned (in id order), so
two recipients advancing the same message at once cannot both miss the
aggregate change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, select, text, update
from sqlalchemy.orm import Session

from parley.chat.context import ActionContext
from parley.chat.membership import require_member, require_message_member
from parley.db.arrays import uuid_array
from parley.db.models import ChatMember, Message, Receipt, ReceiptStatus
from parley.events.catalog import MESSAGE_DELIVERED, MESSAGE_READ
from parley.events.outbox import emit
from parley.protocol.errors import Forbidden
from parley.protocol.frames import MessageRef, ReadUpTo


@dataclass(frozen=True)
class RecipientChange:
    message_id: uuid.UUID
    chat_id: uuid.UUID
    sender_id: uuid.UUID
    user_id: uuid.UUID
    seq: int
    status: ReceiptStatus


@dataclass(frozen=True)
class AggregateChange:
    message_id: uuid.UUID
    chat_id: uuid.UUID
    sender_id: uuid.UUID
    status: ReceiptStatus


@dataclass
class StatusChanges:
    recipients: list[RecipientChange] = field(default_factory=list)
    aggregates: list[AggregateChange] = field(default_factory=list)
    # A big group's sender hears the aggregate only; per recipient, it asks.
    per_recipient_frames: bool = True

    def extend(self, other: StatusChanges) -> None:
        self.recipients.extend(other.recipients)
        self.aggregates.extend(other.aggregates)

    def __bool__(self) -> bool:
        return bool(self.recipients or self.aggregates)


# One statement whatever the number of recipients: a row per element of an
# array, instead of one INSERT per row (999 of them for a big group's message).
_INSERT_SENT = text(
    """
    INSERT INTO receipts (message_id, user_id, chat_id, seq, status)
    SELECT :message_id, recipient, :chat_id, :seq, :status
    FROM unnest(CAST(:recipients AS uuid[])) AS recipient
    """
)


def create_sent(
    session: Session, message: Message, recipient_ids: Iterable[uuid.UUID | str]
) -> None:
    recipients = list(recipient_ids)
    if recipients:
        session.execute(
            _INSERT_SENT,
            {
                "message_id": message.id,
                "chat_id": message.chat_id,
                "seq": message.seq,
                "status": ReceiptStatus.SENT.value,
                "recipients": uuid_array(recipients),
            },
        )


def mark_delivered(
    session: Session, message_id: uuid.UUID, user_ids: Iterable[uuid.UUID]
) -> StatusChanges:
    """Recipients reached by a push of this message."""
    users = list(user_ids)
    if not users:
        return StatusChanges()
    return _advance(session, ReceiptStatus.DELIVERED, users, [message_id])


def mark_messages_delivered(
    session: Session, user_id: uuid.UUID, message_ids: Iterable[uuid.UUID]
) -> StatusChanges:
    """One recipient reached by several messages (catch-up, client confirmation)."""
    ids = list(message_ids)
    if not ids:
        return StatusChanges()
    delivered = ReceiptStatus.DELIVERED
    behind = _behind(session, delivered, [user_id], Receipt.message_id.in_(ids))
    return _advance(session, delivered, [user_id], behind)


def confirm_delivered(
    session: Session, user_id: uuid.UUID, message_id: uuid.UUID, chat_id: uuid.UUID | None
) -> tuple[Message, StatusChanges]:
    """`message:delivered`: the client confirms a message reached it."""
    message = session.get(Message, message_id)
    require_message_member(session, user_id, message.chat_id if message else None, chat_id=chat_id)
    if message.sender_id == user_id:
        raise Forbidden("the sender of a message has no delivery to confirm")
    return message, mark_messages_delivered(session, user_id, [message_id])


def mark_read_up_to(
    session: Session, user_id: uuid.UUID, chat_id: uuid.UUID, message_id: uuid.UUID
) -> tuple[Message, StatusChanges]:
    """`message:read`: this message and every earlier one in the chat are read."""
    member = require_member(session, chat_id, user_id)
    message = session.get(Message, message_id)
    require_message_member(session, user_id, message.chat_id if message else None, chat_id=chat_id)
    session.execute(
        update(ChatMember)
        .where(ChatMember.chat_id == chat_id, ChatMember.user_id == user_id)
        .values(last_read_seq=func.greatest(ChatMember.last_read_seq, message.seq))
        .execution_options(synchronize_session=False)
    )
    session.expire(member)
    read = ReceiptStatus.READ
    unread = _behind(
        session, read, [user_id], and_(Receipt.chat_id == chat_id, Receipt.seq <= message.seq)
    )
    changes = _advance(session, read, [user_id], unread, up_to_seq=message.seq)
    return message, changes


def read_message(ctx: ActionContext, data: ReadUpTo) -> dict[str, Any]:
    """`message:read` action: read up to `messageId`; senders hear it after the commit."""
    message, changes = mark_read_up_to(ctx.session, ctx.user_id, data.chat_id, data.message_id)
    ctx.tell(changes)
    return {
        "chatId": str(message.chat_id),
        "messageId": str(message.id),
        "upToSeq": message.seq,
        "status": ReceiptStatus.READ.wire,
        "changed": len(changes.recipients),
    }


def delivered_message(ctx: ActionContext, data: MessageRef) -> dict[str, Any]:
    """`message:delivered` action: the client confirms a message reached it."""
    message, changes = confirm_delivered(ctx.session, ctx.user_id, data.message_id, data.chat_id)
    ctx.tell(changes)
    return {
        "chatId": str(message.chat_id),
        "messageId": str(message.id),
        "status": ReceiptStatus.DELIVERED.wire,
        "changed": len(changes.recipients),
    }


def withdraw_pending(session: Session, chat_id: uuid.UUID, user_id: uuid.UUID) -> StatusChanges:
    """A member left: what still queued for them in the chat (SENT) is no longer theirs.

    Taking away a SENT receipt can move a message's aggregate forward (when
    the leaver was the last recipient it had not reached); those moves are
    returned for the senders to hear. A message left without recipients keeps
    its aggregate (SENT): nothing changes for its sender.
    """
    pending = and_(
        Receipt.chat_id == chat_id,
        Receipt.user_id == user_id,
        Receipt.status == ReceiptStatus.SENT.value,
    )
    message_ids = session.scalars(select(Receipt.message_id).where(pending)).all()
    if not message_ids:
        return StatusChanges()
    senders = _lock_messages(session, message_ids)
    aggregates = session.execute(
        select(
            Receipt.message_id,
            func.min(Receipt.status),
            func.min(case((pending, None), else_=Receipt.status)),
        )
        .where(Receipt.message_id.in_(message_ids))
        .group_by(Receipt.message_id)
    ).all()
    session.execute(delete(Receipt).where(pending).execution_options(synchronize_session=False))
    changes = StatusChanges()
    for message_id, before, after in aggregates:
        if after is not None and after != before:
            changes.aggregates.append(
                AggregateChange(message_id, chat_id, senders[message_id], ReceiptStatus(after))
            )
    return changes


# In id order, so concurrent changes cannot deadlock. A key-preserving lock:
# receipts (their foreign key) can still be written meanwhile.
_LOCK_MESSAGES = text(
    """
    SELECT id, sender_id FROM messages
    WHERE id = ANY(CAST(:message_ids AS uuid[]))
    ORDER BY id
    FOR NO KEY UPDATE
    """
)


def _lock_messages(session: Session, message_ids) -> dict[uuid.UUID, uuid.UUID]:
    """Lock the messages; their senders."""
    return dict(session.execute(_LOCK_MESSAGES, {"message_ids": uuid_array(message_ids)}).all())


# Run under the messages' locks: the receipts moved forward, each with its
# message's aggregate before and after. Every part of the statement reads the
# snapshot from before the update, so `after` counts the moved receipts at
# their new status without a second statement.
_ADVANCE = text(
    """
    WITH moved AS (
        UPDATE receipts
        SET status = CAST(:status AS smallint),
            delivered_at = coalesce(delivered_at, CAST(:now AS timestamptz)),
            read_at = CASE WHEN CAST(:reading AS boolean) THEN CAST(:now AS timestamptz)
                           ELSE read_at END
        WHERE message_id = ANY(CAST(:message_ids AS uuid[]))
          AND user_id = ANY(CAST(:user_ids AS uuid[]))
          AND status < CAST(:status AS smallint)
        RETURNING message_id, user_id, chat_id, seq
    ), aggregate AS (
        SELECT message_id,
               min(status) AS before,
               min(CASE WHEN user_id = ANY(CAST(:user_ids AS uuid[]))
                         AND status < CAST(:status AS smallint)
                        THEN CAST(:status AS smallint) ELSE status END) AS after
        FROM receipts
        WHERE message_id IN (SELECT message_id FROM moved)
        GROUP BY message_id
    )
    SELECT moved.message_id, moved.user_id, moved.chat_id, moved.seq,
           aggregate.before, aggregate.after
    FROM moved JOIN aggregate USING (message_id)
    ORDER BY moved.chat_id, moved.seq, moved.user_id
    """
)


def _behind(
    session: Session, status: ReceiptStatus, user_ids: list[uuid.UUID], scope
) -> list[uuid.UUID]:
    """The messages in `scope` with a receipt of these users not yet at `status`."""
    behind = and_(Receipt.user_id.in_(user_ids), Receipt.status < status.value, scope)
    return list(session.scalars(select(Receipt.message_id).where(behind).distinct()))


def _advance(
    session: Session,
    status: ReceiptStatus,
    user_ids: list[uuid.UUID],
    message_ids: list[uuid.UUID],
    *,
    up_to_seq: int | None = None,
) -> StatusChanges:
    """Move these users' receipts of these messages forward to `status`."""
    if not message_ids:
        return StatusChanges()
    senders = _lock_messages(session, message_ids)
    now = datetime.now(UTC)
    moved = session.execute(
        _ADVANCE,
        {
            "status": status.value,
            "now": now,
            "reading": status is ReceiptStatus.READ,
            "message_ids": uuid_array(message_ids),
            "user_ids": uuid_array(user_ids),
        },
    ).all()

    changes = StatusChanges()
    event_type = MESSAGE_READ if status is ReceiptStatus.READ else MESSAGE_DELIVERED
    aggregates: dict[uuid.UUID, AggregateChange] = {}
    for message_id, user_id, chat_id, seq, before, after in moved:
        sender_id = senders[message_id]
        changes.recipients.append(
            RecipientChange(message_id, chat_id, sender_id, user_id, seq, status)
        )
        data = {
            "messageId": str(message_id),
            "chatId": str(chat_id),
            "userId": str(user_id),
            "seq": seq,
            "at": now.isoformat(),
        }
        if up_to_seq is not None:
            data["upToSeq"] = up_to_seq
        emit(session, event_type, chat_id, data)
        if after != before:
            aggregates[message_id] = AggregateChange(
                message_id, chat_id, sender_id, ReceiptStatus(after)
            )
    changes.aggregates.extend(aggregates.values())
    return changes
