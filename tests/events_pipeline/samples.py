"""Valid `data` for every domain event type, as the REST and real-time code emit it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from parley.events import catalog

CHAT = str(uuid.uuid4())
ALICE = str(uuid.uuid4())
BOB = str(uuid.uuid4())
MESSAGE = str(uuid.uuid4())
AT = datetime(2025, 6, 2, 9, 15, tzinfo=UTC).isoformat()

WIRE_MESSAGE: dict[str, Any] = {
    "id": MESSAGE,
    "chatId": CHAT,
    "seq": 7,
    "senderId": ALICE,
    "body": "hello",
    "clientMessageId": "c-7",
    "replyToId": None,
    "createdAt": AT,
    "status": "SENT",
    "isPinned": False,
    "pinnedAt": None,
    "pinnedBy": None,
    "isForwarded": False,
    "forwardedFromId": None,
    "originalSenderId": None,
    "editedAt": None,
    "deletedAt": None,
}
RECEIPT = {"messageId": MESSAGE, "chatId": CHAT, "userId": BOB, "seq": 7, "at": AT}

# (type, key, data): one valid emission per domain event type.
DOMAIN_EVENTS: list[tuple[str, str, dict[str, Any]]] = [
    (catalog.MESSAGE_CREATED, CHAT, {**WIRE_MESSAGE, "recipientIds": [BOB]}),
    (catalog.MESSAGE_DELIVERED, CHAT, RECEIPT),
    (catalog.MESSAGE_READ, CHAT, {**RECEIPT, "upToSeq": 7}),
    (catalog.MESSAGE_PINNED, CHAT, {"messageId": MESSAGE, "chatId": CHAT, "by": ALICE, "at": AT}),
    (catalog.MESSAGE_UNPINNED, CHAT, {"messageId": MESSAGE, "chatId": CHAT, "by": ALICE, "at": AT}),
    (
        catalog.MESSAGE_FORWARDED,
        CHAT,
        {**WIRE_MESSAGE, "isForwarded": True, "forwardedFromId": str(uuid.uuid4())},
    ),
    (
        catalog.MESSAGE_EDITED,
        CHAT,
        {"messageId": MESSAGE, "chatId": CHAT, "body": "hi", "editedAt": AT},
    ),
    (catalog.MESSAGE_DELETED, CHAT, {"messageId": MESSAGE, "chatId": CHAT, "deletedAt": AT}),
    (
        catalog.CHAT_CREATED,
        CHAT,
        {
            "chatId": CHAT,
            "type": "group",
            "title": "Team",
            "memberIds": [ALICE, BOB],
            "createdBy": ALICE,
        },
    ),
    (catalog.CHAT_MEMBER_JOINED, CHAT, {"chatId": CHAT, "userId": BOB, "by": ALICE}),
    (catalog.CHAT_MEMBER_LEFT, CHAT, {"chatId": CHAT, "userId": BOB, "by": BOB}),
    (catalog.USER_REGISTERED, ALICE, {"userId": ALICE, "username": "alice"}),
    (catalog.USER_LOGGED_IN, ALICE, {"userId": ALICE}),
    (catalog.USER_ONLINE, ALICE, {"userId": ALICE, "at": AT}),
    (catalog.USER_OFFLINE, ALICE, {"userId": ALICE, "lastSeenAt": AT}),
    (
        catalog.RATELIMIT_EXCEEDED,
        ALICE,
        {"userId": ALICE, "action": "message", "limit": 20, "windowSeconds": 10},
    ),
]
