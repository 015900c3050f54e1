"""Messages: send, forward, edit, delete.

A message is SENT once committed: the per-chat `seq` comes from the chat row
(`UPDATE chats SET last_seq = last_seq + 1 ... RETURNING`), whose row lock
orders concurrent sends. The domain records what happened (`MessagePosted`,
`MessageChanged`); after the commit the notifier pushes the message to every
live connection of every member, marks each recipient reached DELIVERED and
tells the sender as `message:status`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parley.chat import attachments, receipts
from parley.chat import typing as typing_indicator
from parley.chat.context import ActionContext
from parley.chat.history import aggregate_statuses
from parley.chat.membership import chat_members, member_ids, require_message_member
from parley.chat.outcomes import MessageChange, MessageChanged, MessagePosted
from parley.chat.views import event_view, message_view
from parley.config import get_settings
from parley.db.models import Message, ReceiptStatus
from parley.events.catalog import (
    MESSAGE_CREATED,
    MESSAGE_DELETED,
    MESSAGE_EDITED,
    MESSAGE_FORWARDED,
)
from parley.events.outbox import emit
from parley.protocol.errors import BadRequest, Conflict, Forbidden, TooLarge
from parley.protocol.frames import EditMessage, ForwardMessage, MessageRef, SendMessage
from parley.stores import message_cache

# --- shared by every action on messages --------------------------------------


def load_for_member(
    session: Session,
    message_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    chat_id: uuid.UUID | None = None,
    lock: bool = False,
) -> Message:
    """A message of a chat the caller is in; NotFound otherwise (ids cannot be probed)."""
    query = select(Message).where(Message.id == message_id)
    if lock:
        query = query.with_for_update()
    message = session.scalars(query).one_or_none()
    require_message_member(session, user_id, message.chat_id if message else None, chat_id=chat_id)
    return message


def current_view(session: Session, message: Message) -> dict[str, Any]:
    status = aggregate_statuses(session, [message.id]).get(message.id)
    return message_view(message, status)


def check_body(body: str) -> str:
    limit = get_settings().message_max_chars
    if len(body) > limit:
        raise TooLarge(f"body is longer than {limit} characters", field="body")
    if not body.strip():
        raise BadRequest("body is empty", field="body")
    return body


# --- send and forward --------------------------------------------------------


def send_message(ctx: ActionContext, data: SendMessage) -> dict[str, Any]:
    """`message`: store it (or return the stored one for a repeated clientMessageId)."""
    # Files alone need no text.
    body = "" if data.attachments and not data.body.strip() else check_body(data.body)
    members = chat_members(ctx.session, data.chat_id, ctx.user_id)
    if data.client_message_id is not None:
        stored = _by_client_message_id(ctx.session, ctx.user_id, data.client_message_id)
        if stored is not None:
            return current_view(ctx.session, stored)
    if data.reply_to_id is not None:
        replied = ctx.session.get(Message, data.reply_to_id)
        if replied is None or replied.chat_id != data.chat_id:
            raise BadRequest("replyToId is not a message of this chat", field="replyToId")
    return _publish(
        ctx,
        members,
        Message(
            chat_id=data.chat_id,
            sender_id=ctx.user_id,
            body=body,
            client_message_id=data.client_message_id,
            reply_to_id=data.reply_to_id,
            attachment_links=attachments.link_uploads(
                ctx.session, data.chat_id, ctx.user_id, data.attachments
            ),
        ),
    )


def forward_message(ctx: ActionContext, data: ForwardMessage) -> dict[str, Any]:
    """`message:forward`: a new message in `toChatId`; the caller must be in both chats."""
    source = _forward_source(ctx.session, data.message_id, ctx.user_id)
    members = chat_members(ctx.session, data.to_chat_id, ctx.user_id)
    if data.client_message_id is not None:
        stored = _by_client_message_id(ctx.session, ctx.user_id, data.client_message_id)
        if stored is not None:
            return current_view(ctx.session, stored)
    original_sender = (
        uuid.UUID(source["originalSenderId"])
        if source["isForwarded"] and source["originalSenderId"]
        else uuid.UUID(source["senderId"])
    )
    view = _publish(
        ctx,
        members,
        Message(
            chat_id=data.to_chat_id,
            sender_id=ctx.user_id,
            body=source["body"],
            client_message_id=data.client_message_id,
            is_forwarded=True,
            forwarded_from_id=uuid.UUID(source["id"]),
            original_sender_id=original_sender,
            attachment_links=attachments.links_for_forward(ctx.session, source),
        ),
    )
    emit(
        ctx.session,
        MESSAGE_FORWARDED,
        data.to_chat_id,
        {**event_view(view), "messageId": view["id"], "by": str(ctx.user_id)},
    )
    return view


def _forward_source(session: Session, message_id: uuid.UUID, user_id: uuid.UUID) -> dict:
    """The message to forward, from the cache when it is there (membership still checked)."""
    source = message_cache.get(message_id)
    if source is None:
        message = session.get(Message, message_id)
        source = message_view(message) if message is not None else None
    require_message_member(session, user_id, uuid.UUID(source["chatId"]) if source else None)
    if source["deletedAt"]:
        raise Conflict("a deleted message cannot be forwarded")
    return source


def _by_client_message_id(
    session: Session, sender_id: uuid.UUID, client_message_id: str
) -> Message | None:
    return session.scalars(
        select(Message).where(
            Message.sender_id == sender_id, Message.client_message_id == client_message_id
        )
    ).one_or_none()


def _publish(ctx: ActionContext, members: set[uuid.UUID], message: Message) -> dict[str, Any]:
    """Store with the next seq, SENT receipts, the event; delivered after the commit."""
    session = ctx.session
    if message.client_message_id is None:
        _store(session, message)
    else:
        try:
            # One savepoint for the seq and the row: a lost clientMessageId race
            # leaves neither a gap in seq nor a second message.
            with session.begin_nested():
                _store(session, message)
        except IntegrityError:
            stored = _by_client_message_id(session, message.sender_id, message.client_message_id)
            if stored is None:
                raise
            return current_view(session, stored)

    recipients = members - {message.sender_id}
    # In text once, for the receipts and the event alike (a big group's thousand).
    recipient_ids = sorted(map(str, recipients))
    receipts.create_sent(session, message, recipient_ids)
    view = message_view(message, ReceiptStatus.SENT)
    inline = len(recipients) <= get_settings().fan_out_inline_max_recipients
    fan_out = "inline" if inline else "deferred"
    emit(
        session,
        MESSAGE_CREATED,
        message.chat_id,
        {
            **event_view(view),
            "recipientIds": recipient_ids,
            "fanOut": fan_out,
        },
    )
    ctx.tell(
        MessagePosted(message.id, view, frozenset(members), frozenset(recipients), fan_out=fan_out)
    )
    ctx.after_commit(lambda: typing_indicator.reopen_window(message.chat_id, ctx.user_id))
    ctx.after_commit(lambda: message_cache.put(view))
    return view


# The chat's next seq and the message row in one statement: the UPDATE takes
# the chat row's lock, which orders concurrent sends.
_STORE = text(
    """
    WITH next AS (
        UPDATE chats SET last_seq = last_seq + 1, last_message_at = now()
        WHERE id = :chat_id
        RETURNING last_seq
    )
    INSERT INTO messages (
        id, chat_id, seq, sender_id, body, client_message_id, reply_to_id,
        is_forwarded, forwarded_from_id, original_sender_id
    )
    SELECT CAST(:id AS uuid), :chat_id, next.last_seq, CAST(:sender_id AS uuid), :body,
           CAST(:client_message_id AS varchar), CAST(:reply_to_id AS uuid),
           :is_forwarded, CAST(:forwarded_from_id AS uuid), CAST(:original_sender_id AS uuid)
    FROM next
    RETURNING seq, created_at
    """
)


def _store(session: Session, message: Message) -> None:
    """Write a new message and its attachment links.

    `message` stays out of the ORM session (nothing else changes it in this
    transaction): it is given the values the row got, and views are made from it.
    """
    message.id = uuid.uuid4()
    message.is_forwarded = bool(message.is_forwarded)
    message.is_pinned = False
    message.pinned_at = message.pinned_by = message.edited_at = message.deleted_at = None
    message.seq, message.created_at = session.execute(
        _STORE,
        {
            "id": message.id,
            "chat_id": message.chat_id,
            "sender_id": message.sender_id,
            "body": message.body,
            "client_message_id": message.client_message_id,
            "reply_to_id": message.reply_to_id,
            "is_forwarded": message.is_forwarded,
            "forwarded_from_id": message.forwarded_from_id,
            "original_sender_id": message.original_sender_id,
        },
    ).one()
    attachments.write_links(session, message.id, message.attachment_links)


# --- edit and delete ---------------------------------------------------------


def edit_message(ctx: ActionContext, data: EditMessage) -> dict[str, Any]:
    """`message:edit`: the sender only, within the edit window, not once deleted."""
    check_body(data.body)
    message = load_for_member(
        ctx.session, data.message_id, ctx.user_id, chat_id=data.chat_id, lock=True
    )
    if message.sender_id != ctx.user_id:
        raise Forbidden("only the sender can edit a message")
    if message.deleted_at is not None:
        raise Conflict("a deleted message cannot be edited")
    window = timedelta(seconds=get_settings().edit_window_seconds)
    if datetime.now(UTC) - message.created_at > window:
        raise Forbidden("the edit window of this message has closed")
    message.body = data.body
    message.edited_at = datetime.now(UTC)
    ctx.session.flush()
    return publish_change(ctx, message, MESSAGE_EDITED, "message:edited")


def delete_message(ctx: ActionContext, data: MessageRef) -> dict[str, Any]:
    """`message:delete`: the sender only; soft (body emptied, deletedAt set, unpinned)."""
    message = load_for_member(
        ctx.session, data.message_id, ctx.user_id, chat_id=data.chat_id, lock=True
    )
    if message.sender_id != ctx.user_id:
        raise Forbidden("only the sender can delete a message")
    if message.deleted_at is not None:
        return current_view(ctx.session, message)
    message.body = ""
    message.deleted_at = datetime.now(UTC)
    message.is_pinned = False
    message.pinned_at = None
    message.pinned_by = None
    ctx.session.flush()
    return publish_change(ctx, message, MESSAGE_DELETED, "message:deleted")


def publish_change(
    ctx: ActionContext, message: Message, event_type: str, change: MessageChange
) -> dict[str, Any]:
    """Event, cache invalidation and what the members hear of a change to a message."""
    ctx.session.flush()
    view = current_view(ctx.session, message)
    emit(
        ctx.session,
        event_type,
        message.chat_id,
        {**event_view(view), "messageId": view["id"], "by": str(ctx.user_id)},
    )
    ctx.after_commit(lambda: message_cache.invalidate(message.id))
    ctx.tell(MessageChanged(change, view, frozenset(member_ids(ctx.session, message.chat_id))))
    return view
