"""Notifications: a new message for a recipient with no live connection.

Each such recipient gets a `notifications` row and a `notification.requested`
event, and the configured sender delivers it. Senders are pluggable: the
default one logs; a push or e-mail sender implements `NotificationSender`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from parley.config import get_settings
from parley.db.models import Notification
from parley.events import catalog
from parley.events.consumers.base import Consumer, lambda_handler
from parley.events.envelope import Envelope
from parley.events.models import MessageCreated, NotificationRequested
from parley.events.outbox import emit
from parley.observability import logger
from parley.stores import connections

NAME = "notifications"
PREVIEW_CHARS = 120


class NotificationSender(Protocol):
    channel: str

    def send(self, notification: NotificationRequested) -> None:
        """Deliver one notification; raise to have the record retried."""


class LoggingSender:
    channel = "log"

    def send(self, notification: NotificationRequested) -> None:
        logger.info("notification", extra=notification.model_dump(mode="json", by_alias=True))


SENDERS: dict[str, type[NotificationSender]] = {"log": LoggingSender}
_sender: NotificationSender | None = None


def get_sender() -> NotificationSender:
    global _sender
    if _sender is None:
        name = get_settings().notification_sender
        try:
            _sender = SENDERS[name]()
        except KeyError:
            raise ValueError(
                f"unknown notification sender {name!r}; known: {sorted(SENDERS)}"
            ) from None
    return _sender


def use_sender(sender: NotificationSender | None) -> None:
    """Install a sender (None: back to the configured one)."""
    global _sender
    _sender = sender


def _offline_recipients(message: MessageCreated) -> list[uuid.UUID]:
    recipients = [user for user in message.recipient_ids if user != message.sender_id]
    online = connections.of_users(recipients)
    return [user for user in recipients if not online.get(user)]


def has_offline_recipients(envelope: Envelope) -> bool:
    """Most messages reach only people online: no transaction for those."""
    return bool(_offline_recipients(MessageCreated.model_validate(envelope.data)))


def notify_offline_recipients(session: Session, envelope: Envelope) -> None:
    message = MessageCreated.model_validate(envelope.data)
    sender = get_sender()
    for user_id in _offline_recipients(message):
        notification_id = session.execute(
            insert(Notification)
            .values(
                event_id=envelope.id,
                user_id=user_id,
                chat_id=message.chat_id,
                message_id=message.id,
                channel=sender.channel,
                status="pending",
            )
            .on_conflict_do_nothing(constraint="uq_notifications_event_user")
            .returning(Notification.id)
        ).scalar_one_or_none()
        if notification_id is None:
            continue
        requested = NotificationRequested(
            notification_id=notification_id,
            user_id=user_id,
            chat_id=message.chat_id,
            message_id=message.id,
            sender_id=message.sender_id,
            preview=message.body[:PREVIEW_CHARS],
            channel=sender.channel,
        )
        emit(
            session,
            catalog.NOTIFICATION_REQUESTED,
            user_id,
            requested.model_dump(mode="json", by_alias=True),
        )
        sender.send(requested)
        session.execute(
            update(Notification)
            .where(Notification.id == notification_id)
            .values(status="sent", sent_at=datetime.now(UTC))
        )


CONSUMER = Consumer(
    NAME,
    frozenset({catalog.MESSAGE_CREATED}),
    notify_offline_recipients,
    has_work=has_offline_recipients,
)
handler = lambda_handler(CONSUMER)
