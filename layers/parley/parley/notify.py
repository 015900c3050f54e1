"""The notifier: what happened (the domain's outcomes) becomes frames for live connections.

Both entries (WebSocket and REST) open their unit of work with `notify` as
its notifier; it runs once the transaction has committed, before any event
goes to the broker. The connection that acted (the unit's
`origin_connection`) is not pushed what its ack already tells it; a sender
always hears status changes, on every connection.
"""

from __future__ import annotations

import uuid
from functools import singledispatch
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from parley.accounts import sessions
from parley.chat import receipts
from parley.chat.chats import MemberChange
from parley.chat.outcomes import (
    MessageChanged,
    MessagePosted,
    PresenceChanged,
    QueuedMessages,
    TypingChanged,
)
from parley.chat.presence import presence_view, users_went_offline
from parley.config import get_settings
from parley.db.session import UnitOfWork, current_unit, unit_of_work
from parley.observability import logger, metrics
from parley.protocol.frames import (
    chat_member_frame,
    frame,
    message_frame,
    status_frame,
    typing_frame,
    users_update_frame,
)
from parley.push import Pusher, encode
from parley.stores import connections


def notify(work: UnitOfWork, outcome: Any) -> None:
    """Push the frames `outcome` means (nothing when the unit has no pusher)."""
    if work.pusher is not None:
        _notify(outcome, work)


def live_pusher(endpoint: str) -> Pusher:
    """A pusher for one WebSocket API stage; a 410 from a user's last established
    connection takes that user offline (bounded: each 410 removes a connection)."""
    return Pusher(endpoint, on_offline=lambda users: _went_offline(endpoint, users))


def _went_offline(endpoint: str, user_ids: set) -> None:
    work = current_unit()
    if work is not None and work.pusher is not None:
        # Pushing after a commit: the unit's connection, and its notifier, serve.
        users_went_offline(work, user_ids)
        return
    with unit_of_work(pusher=live_pusher(endpoint), notifier=notify) as work:
        users_went_offline(work, user_ids)


@singledispatch
def _notify(outcome: Any, work: UnitOfWork) -> None:
    raise TypeError(f"no frames for {type(outcome).__name__}")


@_notify.register
def _sessions_ended(outcome: sessions.SessionsEnded, work: UnitOfWork) -> None:
    """Tell, then close, the sockets of the sign-ins that ended (logout, password change)."""
    sessions.end_sockets(work.pusher, outcome)


@_notify.register
def _posted(outcome: MessagePosted, work: UnitOfWork) -> None:
    """Fan out to every member's live connections; DELIVERED for each recipient reached.

    A deferred fan-out (a big group) reaches only the sender's other
    connections here; the fan-out function pushes to the recipients in
    batches (`fan_out: "batch"`), each connection at most once per message.
    """
    pusher: Pusher = work.pusher
    if outcome.fan_out == "deferred":
        metrics.add_metric(name="MessagesSent", unit=MetricUnit.Count, value=1)
        sender = uuid.UUID(outcome.view["senderId"])
        pusher.to_users(
            {sender}, message_frame(outcome.view), exclude_connection=work.origin_connection
        )
        return
    if outcome.fan_out == "inline":
        metrics.add_metric(name="MessagesSent", unit=MetricUnit.Count, value=1)
    reached = pusher.to_users(
        outcome.members,
        message_frame(outcome.view),
        exclude_connection=work.origin_connection,
        once_per_connection=str(outcome.message_id) if outcome.fan_out == "batch" else None,
    )
    reached_recipients = reached & outcome.recipients
    if not reached_recipients:
        return
    with work.transaction() as session:
        changes = receipts.mark_delivered(session, outcome.message_id, reached_recipients)
    changes.per_recipient_frames = (
        outcome.fan_out == "inline" and len(outcome.recipients) <= get_settings().big_chat_members
    )
    for aggregate in changes.aggregates:
        # The ack is built after this step: it carries the status reached by now.
        outcome.view["status"] = aggregate.status.wire
    _status(changes, work)


@_notify.register
def _changed(outcome: MessageChanged, work: UnitOfWork) -> None:
    changed = frame(outcome.change, outcome.view)
    work.pusher.to_users(outcome.members, changed, exclude_connection=work.origin_connection)


@_notify.register
def _typing(outcome: TypingChanged, work: UnitOfWork) -> None:
    work.pusher.to_users(
        outcome.audience, typing_frame(outcome.chat_id, outcome.user_id, outcome.is_typing)
    )


@_notify.register
def _member(outcome: MemberChange, work: UnitOfWork) -> None:
    member_frame = chat_member_frame(outcome.chat_id, outcome.user_id, outcome.event, outcome.by)
    work.pusher.to_users(outcome.audience, member_frame, exclude_connection=work.origin_connection)
    _status(outcome.status_changes, work)


@_notify.register
def _presence(outcome: PresenceChanged, work: UnitOfWork) -> None:
    view = presence_view(outcome.user_id, outcome.online, outcome.last_seen_at)
    work.pusher.to_users(outcome.audience, users_update_frame(view))


@_notify.register
def _queued(outcome: QueuedMessages, work: UnitOfWork) -> None:
    """Catch-up: each queued message to the connections; DELIVERED for what arrived."""
    pusher: Pusher = work.pusher
    arrived = [
        uuid.UUID(view["id"])
        for view in outcome.views
        if pusher.fan_out(outcome.connection_ids, message_frame(view)).delivered
    ]
    logger.info(
        "queued messages delivered", extra={"queued": len(outcome.views), "arrived": len(arrived)}
    )
    if not arrived:
        return
    with work.transaction() as session:
        changes = receipts.mark_messages_delivered(session, outcome.user_id, arrived)
    _status(changes, work)


@_notify.register(receipts.StatusChanges)
def _status(outcome: receipts.StatusChanges, work: UnitOfWork) -> None:
    """`message:status` frames to every live connection of each sender.

    The per-recipient frames go out together, in parallel; the aggregates
    follow, so a sender never sees an aggregate before the change behind it.
    """
    conns = connections.of_users(
        {change.sender_id for change in [*outcome.recipients, *outcome.aggregates]}
    )

    def deliveries(items: list, frame_of) -> list[tuple[str, bytes]]:
        return [
            (connection_id, encode(frame_of(item)))
            for item in items
            for connection_id in conns.get(item.sender_id, ())
        ]

    if outcome.per_recipient_frames:
        work.pusher.send_each(
            deliveries(
                outcome.recipients,
                lambda c: status_frame(c.message_id, c.chat_id, c.status.wire, user_id=c.user_id),
            )
        )
    work.pusher.send_each(
        deliveries(
            outcome.aggregates, lambda a: status_frame(a.message_id, a.chat_id, a.status.wire)
        )
    )
