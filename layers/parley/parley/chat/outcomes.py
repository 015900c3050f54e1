"""What happened: the outcomes a domain function records on its unit of work.

The domain says what changed and who is concerned; it never builds a wire
frame nor calls the pusher. Once the transaction has committed, the entry's
notifier (`parley.notify`) turns each outcome into frames for the live
connections concerned. `receipts.StatusChanges` and `chats.MemberChange`
are outcomes as well.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

MessageChange = Literal["message:edited", "message:deleted", "message:pinned", "message:unpinned"]
# Who pushes a new message to its recipients: the invocation that stored it
# ("inline"), or, past `fan_out_inline_max_recipients`, the fan-out function,
# which pushes a batch of recipients at a time ("batch") while the sending
# invocation only tells the sender's other connections ("deferred").
FanOut = Literal["inline", "deferred", "batch"]


@dataclass(frozen=True)
class MessagePosted:
    """A new message (sent or forwarded), as the ack shows it.

    Every member's live connections hear it; each recipient reached is
    DELIVERED and the sender hears that. `view` is the ack's own dict: its
    status follows what the delivery reached.
    """

    message_id: uuid.UUID
    view: dict[str, Any]
    members: frozenset[uuid.UUID]
    recipients: frozenset[uuid.UUID]
    fan_out: FanOut = "inline"


@dataclass(frozen=True)
class MessageChanged:
    """An existing message was edited, deleted, pinned or unpinned; the members hear it."""

    change: MessageChange
    view: dict[str, Any]
    members: frozenset[uuid.UUID]


@dataclass(frozen=True)
class TypingChanged:
    """A member started or stopped typing; `audience` hears it."""

    chat_id: uuid.UUID
    user_id: uuid.UUID
    is_typing: bool
    audience: frozenset[uuid.UUID]


@dataclass(frozen=True)
class PresenceChanged:
    """A user went online (first live connection) or offline (last one gone)."""

    user_id: uuid.UUID
    online: bool
    last_seen_at: datetime | None
    audience: frozenset[uuid.UUID]


@dataclass(frozen=True)
class QueuedMessages:
    """What queued for a user while away, due to these connections of theirs.

    Each message that reaches one of them is DELIVERED, and its sender hears it.
    """

    user_id: uuid.UUID
    connection_ids: tuple[str, ...]
    views: tuple[dict[str, Any], ...]
