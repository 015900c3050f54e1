"""The `data` of every event type, one pydantic model per (type, version).

Field names are camelCase on the wire. Every model accepts fields it does not
name (producers may add context without breaking consumers); the ones named
here are the contract that consumers rely on and that `emit` checks.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from parley.events import catalog


class EventData(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


# --- Messages -------------------------------------------------------------------


class AttachmentMetadata(EventData):
    """A file of a message, as events carry it: never its (short-lived) URL."""

    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    width: int | None = None
    height: int | None = None


class WireMessage(EventData):
    """A message as it travels on the WebSocket (DESIGN §5), without attachment URLs."""

    id: uuid.UUID
    chat_id: uuid.UUID
    seq: int
    sender_id: uuid.UUID
    body: str
    client_message_id: str | None = None
    reply_to_id: uuid.UUID | None = None
    created_at: datetime | None = None
    status: str | None = None
    is_pinned: bool = False
    pinned_at: datetime | None = None
    pinned_by: uuid.UUID | None = None
    is_forwarded: bool = False
    forwarded_from_id: uuid.UUID | None = None
    original_sender_id: uuid.UUID | None = None
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    attachments: list[AttachmentMetadata] = Field(default_factory=list)


class MessageCreated(WireMessage):
    """A stored message and who should receive it (every member but the sender)."""

    recipient_ids: list[uuid.UUID]
    fan_out: Literal["inline", "deferred"] | None = Field(
        default=None,
        description=(
            "How the recipients get it: `inline`, pushed by the sending invocation; "
            "`deferred` (a big group), pushed by the fan-out function, whose event "
            "source lets only these through."
        ),
    )


class MessageDelivered(EventData):
    """A frame carrying the message reached one of the recipient's connections."""

    message_id: uuid.UUID
    chat_id: uuid.UUID
    user_id: uuid.UUID = Field(description="The recipient.")
    seq: int
    at: datetime


class MessageRead(MessageDelivered):
    """The recipient read the message and, with it, every earlier one in the chat."""

    up_to_seq: int | None = Field(
        default=None, description="Every message at or below this seq is read; defaults to seq."
    )


class MessagePinned(EventData):
    message_id: uuid.UUID
    chat_id: uuid.UUID
    by: uuid.UUID | None = None
    at: datetime | None = None


class MessageUnpinned(MessagePinned):
    pass


class MessageForwarded(WireMessage):
    """The new message in the target chat; `forwardedFromId` names the original."""

    recipient_ids: list[uuid.UUID] = Field(default_factory=list)


class MessageEdited(EventData):
    message_id: uuid.UUID
    chat_id: uuid.UUID
    body: str | None = None
    edited_at: datetime | None = None
    by: uuid.UUID | None = None


class MessageDeleted(EventData):
    message_id: uuid.UUID
    chat_id: uuid.UUID
    deleted_at: datetime | None = None
    by: uuid.UUID | None = None


# --- Chats ----------------------------------------------------------------------


class ChatCreated(EventData):
    chat_id: uuid.UUID
    type: str
    title: str | None = None
    member_ids: list[uuid.UUID]
    created_by: uuid.UUID | None = None


class ChatMemberJoined(EventData):
    chat_id: uuid.UUID
    user_id: uuid.UUID
    by: uuid.UUID | None = Field(default=None, description="Who added them; themselves on join.")


class ChatMemberLeft(ChatMemberJoined):
    pass


# --- Users ----------------------------------------------------------------------


class UserRegistered(EventData):
    user_id: uuid.UUID
    username: str


class UserLoggedIn(EventData):
    user_id: uuid.UUID


class UserOnline(EventData):
    user_id: uuid.UUID
    at: datetime | None = None


class UserOffline(EventData):
    user_id: uuid.UUID
    last_seen_at: datetime | None = None


class RateLimitExceeded(EventData):
    user_id: uuid.UUID
    action: str
    limit: int
    window_seconds: float


# --- Derived streams ------------------------------------------------------------


class DailyFigures(EventData):
    day: date
    messages_sent: int
    messages_delivered: int
    messages_read: int
    median_read_ms: int | None = None


class AnalyticsMessage(DailyFigures):
    """A chat's figures for one day, once a batch of changes to them is applied."""

    chat_id: uuid.UUID


class AnalyticsUser(DailyFigures):
    """A user's figures for one day: sent by them, delivered to and read by them."""

    user_id: uuid.UUID


class AuditEvent(EventData):
    audit_id: int
    event_id: uuid.UUID
    event_type: str
    key: str
    source: str
    occurred_at: datetime


class NotificationRequested(EventData):
    notification_id: uuid.UUID
    user_id: uuid.UUID
    chat_id: uuid.UUID
    message_id: uuid.UUID
    sender_id: uuid.UUID | None = None
    preview: str = ""
    channel: str


class DeadLetter(EventData):
    """A record a consumer gave up on after its retries; enough to replay it by hand."""

    consumer: str
    topic: str
    partition: int
    offset: int
    key: str | None = None
    value: str = Field(description="The record's value as received (JSON text when it decodes).")
    error: str
    attempts: int
    event_id: uuid.UUID | None = None


DATA_MODELS: dict[tuple[str, int], type[EventData]] = {
    (catalog.MESSAGE_CREATED, 1): MessageCreated,
    (catalog.MESSAGE_DELIVERED, 1): MessageDelivered,
    (catalog.MESSAGE_READ, 1): MessageRead,
    (catalog.MESSAGE_PINNED, 1): MessagePinned,
    (catalog.MESSAGE_UNPINNED, 1): MessageUnpinned,
    (catalog.MESSAGE_FORWARDED, 1): MessageForwarded,
    (catalog.MESSAGE_EDITED, 1): MessageEdited,
    (catalog.MESSAGE_DELETED, 1): MessageDeleted,
    (catalog.CHAT_CREATED, 1): ChatCreated,
    (catalog.CHAT_MEMBER_JOINED, 1): ChatMemberJoined,
    (catalog.CHAT_MEMBER_LEFT, 1): ChatMemberLeft,
    (catalog.USER_REGISTERED, 1): UserRegistered,
    (catalog.USER_LOGGED_IN, 1): UserLoggedIn,
    (catalog.USER_ONLINE, 1): UserOnline,
    (catalog.USER_OFFLINE, 1): UserOffline,
    (catalog.RATELIMIT_EXCEEDED, 1): RateLimitExceeded,
    (catalog.ANALYTICS_MESSAGE, 1): AnalyticsMessage,
    (catalog.ANALYTICS_USER, 1): AnalyticsUser,
    (catalog.AUDIT_EVENT, 1): AuditEvent,
    (catalog.NOTIFICATION_REQUESTED, 1): NotificationRequested,
    (catalog.SYSTEM_DEADLETTER, 1): DeadLetter,
}


class InvalidEventData(ValueError):
    """`data` does not match the catalog model of its event type."""


def data_model(event_type: str, version: int = 1) -> type[EventData] | None:
    return DATA_MODELS.get((event_type, version))


def parse_data(event_type: str, version: int, data: dict[str, Any]) -> EventData | None:
    """The typed `data` of an event, or None for a (type, version) with no model."""
    model = data_model(event_type, version)
    if model is None:
        return None
    try:
        return model.model_validate(data)
    except ValueError as exc:
        raise InvalidEventData(f"{event_type} v{version}: {exc}") from exc
