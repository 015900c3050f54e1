"""The topic catalog (DESIGN §7): one topic per domain event, plus derived streams.

This module is the single source; template.yaml and docs/events.md mirror it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class KeyKind(StrEnum):
    CHAT = "chat"
    USER = "user"
    # Derived records keep the key of the event they come from, so they stay
    # in that entity's order.
    SOURCE = "source"


DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Topic:
    name: str
    key: KeyKind
    derived: bool = False
    description: str = ""
    # None: the `topic_partitions` / `topic_retention_ms` settings.
    partitions: int | None = None
    retention_ms: int | None = None


MESSAGE_CREATED = "message.created"
MESSAGE_DELIVERED = "message.delivered"
MESSAGE_READ = "message.read"
MESSAGE_PINNED = "message.pinned"
MESSAGE_UNPINNED = "message.unpinned"
MESSAGE_FORWARDED = "message.forwarded"
MESSAGE_EDITED = "message.edited"
MESSAGE_DELETED = "message.deleted"
CHAT_CREATED = "chat.created"
CHAT_MEMBER_JOINED = "chat.member.joined"
CHAT_MEMBER_LEFT = "chat.member.left"
USER_REGISTERED = "user.registered"
USER_LOGGED_IN = "user.logged_in"
USER_ONLINE = "user.online"
USER_OFFLINE = "user.offline"
RATELIMIT_EXCEEDED = "ratelimit.exceeded"
ANALYTICS_MESSAGE = "analytics.message"
ANALYTICS_USER = "analytics.user"
AUDIT_EVENT = "audit.event"
NOTIFICATION_REQUESTED = "notification.requested"
SYSTEM_DEADLETTER = "system.deadletter"

TOPICS: tuple[Topic, ...] = (
    Topic(MESSAGE_CREATED, KeyKind.CHAT, description="A message was stored (SENT)."),
    Topic(MESSAGE_DELIVERED, KeyKind.CHAT, description="A message reached a recipient."),
    Topic(MESSAGE_READ, KeyKind.CHAT, description="A recipient read up to a message."),
    Topic(MESSAGE_PINNED, KeyKind.CHAT, description="A message was pinned."),
    Topic(MESSAGE_UNPINNED, KeyKind.CHAT, description="A message was unpinned."),
    Topic(MESSAGE_FORWARDED, KeyKind.CHAT, description="A message was forwarded to a chat."),
    Topic(MESSAGE_EDITED, KeyKind.CHAT, description="A message's body was edited."),
    Topic(MESSAGE_DELETED, KeyKind.CHAT, description="A message was deleted (soft)."),
    Topic(CHAT_CREATED, KeyKind.CHAT, description="A direct or group chat was created."),
    Topic(CHAT_MEMBER_JOINED, KeyKind.CHAT, description="A user joined or was added."),
    Topic(CHAT_MEMBER_LEFT, KeyKind.CHAT, description="A user left or was removed."),
    Topic(USER_REGISTERED, KeyKind.USER, description="An account was created."),
    Topic(USER_LOGGED_IN, KeyKind.USER, description="A user signed in."),
    Topic(USER_ONLINE, KeyKind.USER, description="A user's first live connection opened."),
    Topic(USER_OFFLINE, KeyKind.USER, description="A user's last live connection closed."),
    Topic(RATELIMIT_EXCEEDED, KeyKind.USER, description="A caller hit a rate limit."),
    Topic(ANALYTICS_MESSAGE, KeyKind.CHAT, True, "Per-chat daily message figures."),
    Topic(ANALYTICS_USER, KeyKind.USER, True, "Per-user daily message figures."),
    Topic(AUDIT_EVENT, KeyKind.SOURCE, True, "A domain event recorded in the audit log."),
    Topic(NOTIFICATION_REQUESTED, KeyKind.USER, True, "A push for an offline recipient."),
    # Dead letters wait for a person: keep them longer, one partition keeps them in order.
    Topic(
        SYSTEM_DEADLETTER,
        KeyKind.SOURCE,
        True,
        "A record a consumer could not process.",
        partitions=1,
        retention_ms=30 * DAY_MS,
    ),
)

BY_NAME: dict[str, Topic] = {topic.name: topic for topic in TOPICS}
DOMAIN_TOPICS: tuple[str, ...] = tuple(t.name for t in TOPICS if not t.derived)
DERIVED_TOPICS: tuple[str, ...] = tuple(t.name for t in TOPICS if t.derived)


def topic(name: str) -> Topic:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown event type {name!r}") from None
