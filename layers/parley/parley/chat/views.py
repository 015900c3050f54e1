"""How domain rows look on the wire (DESIGN §5): camelCase, ids and times as strings."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from parley.chat.attachments import attachment_view
from parley.db.models import Chat, Message, ReceiptStatus, User
from parley.stores.presence import Presence


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def message_view(message: Message, status: ReceiptStatus | int | None = None) -> dict[str, Any]:
    """A message as clients see it; `status` is the aggregate over recipients."""
    aggregate = ReceiptStatus(status) if status is not None else ReceiptStatus.SENT
    return {
        "id": str(message.id),
        "chatId": str(message.chat_id),
        "seq": message.seq,
        "senderId": str(message.sender_id),
        "body": message.body,
        "clientMessageId": message.client_message_id,
        "replyToId": _id(message.reply_to_id),
        "createdAt": _time(message.created_at),
        "status": aggregate.wire,
        "isPinned": message.is_pinned,
        "pinnedAt": _time(message.pinned_at),
        "pinnedBy": _id(message.pinned_by),
        "isForwarded": message.is_forwarded,
        "forwardedFromId": _id(message.forwarded_from_id),
        "originalSenderId": _id(message.original_sender_id),
        "editedAt": _time(message.edited_at),
        "deletedAt": _time(message.deleted_at),
        # A deleted message keeps its place, not its files.
        "attachments": (
            []
            if message.deleted_at is not None
            else [attachment_view(link.attachment) for link in message.attachment_links]
        ),
    }


def event_view(view: dict[str, Any]) -> dict[str, Any]:
    """A message view as events carry it: attachments without their short-lived URLs."""
    attachments = view.get("attachments") or []
    return {
        **view,
        "attachments": [
            {key: value for key, value in item.items() if key != "url"} for item in attachments
        ],
    }


def user_view(user: User, presence: Presence | None = None) -> dict[str, Any]:
    last_seen = (presence.last_seen_at if presence else None) or user.last_seen_at
    return {
        "id": str(user.id),
        "username": user.username,
        "displayName": user.display_name or user.username,
        "online": bool(presence and presence.online),
        "lastSeenAt": _time(last_seen),
        "createdAt": _time(user.created_at),
    }


def chat_view(chat: Chat) -> dict[str, Any]:
    return {
        "id": str(chat.id),
        "type": chat.type,
        "title": chat.title,
        "isPublic": chat.is_public,
        "createdBy": _id(chat.created_by),
        "createdAt": _time(chat.created_at),
        "lastSeq": chat.last_seq,
        "lastMessageAt": _time(chat.last_message_at),
    }
