"""Connections and presence: $connect, $disconnect, catch-up, and who sees whom.

A user is online while any of their connections is live. Going online or
offline is told (`users:update`) to every user who shares a chat with them.
Messages that queued while a user was away (receipts still SENT) are pushed
to them when they are back, and marked DELIVERED.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from parley.chat.context import ActionContext, Listing
from parley.chat.history import aggregate_statuses
from parley.chat.outcomes import PresenceChanged, QueuedMessages
from parley.chat.views import message_view, user_view
from parley.config import get_settings
from parley.db.models import ChatMember, Message, Receipt, ReceiptStatus, User
from parley.db.session import UnitOfWork
from parley.events.catalog import USER_OFFLINE, USER_ONLINE
from parley.events.outbox import emit
from parley.observability import logger
from parley.protocol.errors import TooManyConnections, UnknownAction
from parley.protocol.frames import NoData
from parley.stores import connections, presence

# What one catch-up pushes at most; older queued messages stay SENT and are
# picked up by the next one (the history API has them all anyway).
CATCH_UP_LIMIT = 500


def contacts_of(session: Session, user_id: uuid.UUID) -> set[uuid.UUID]:
    """Every other user who shares at least one chat with `user_id`."""
    my_chats = select(ChatMember.chat_id).where(ChatMember.user_id == user_id)
    return set(
        session.scalars(
            select(ChatMember.user_id)
            .where(ChatMember.chat_id.in_(my_chats), ChatMember.user_id != user_id)
            .distinct()
        )
    )


def presence_audience(session: Session, user_id: uuid.UUID) -> set[uuid.UUID]:
    """Who hears `user_id` come and go: those sharing a chat of at most `big_chat_members`.

    Sharing only big groups is not enough: a mass reconnect of a 1,000-member
    group would otherwise cost a million pushes. Those members still see the
    presence through `users:list`.
    """
    limit = get_settings().big_chat_members
    my_chats = select(ChatMember.chat_id).where(ChatMember.user_id == user_id)
    small_chats = (
        select(ChatMember.chat_id)
        .where(ChatMember.chat_id.in_(my_chats))
        .group_by(ChatMember.chat_id)
        .having(func.count() <= limit)
    )
    return set(
        session.scalars(
            select(ChatMember.user_id)
            .where(ChatMember.chat_id.in_(small_chats), ChatMember.user_id != user_id)
            .distinct()
        )
    )


def presence_view(
    user_id: uuid.UUID, online: bool, last_seen_at: datetime | None
) -> dict[str, Any]:
    return {
        "userId": str(user_id),
        "online": online,
        "lastSeenAt": last_seen_at.isoformat() if last_seen_at else None,
    }


def open_session(work: UnitOfWork, connection: connections.Connection) -> None:
    """$connect: register the connection; online on the user's first live one.

    A user past `max_connections_per_user` live connections is refused (the
    check follows the registration, so two racing connects never both slip in).
    """
    first = connections.add(connection)
    cap = get_settings().max_connections_per_user
    if not first and connections.count(connection.user_id) > cap:
        connections.remove(connection.connection_id, connection.user_id)
        raise TooManyConnections(
            f"too many connections: at most {cap} per user; close another one first"
        )
    connections.mark_catch_up_due(connection.connection_id)
    user_id = connection.user_id
    if first:
        presence.mark_online(user_id)
        at = datetime.now(UTC)
        emit(work.session, USER_ONLINE, user_id, {"userId": str(user_id), "at": at.isoformat()})
        audience = frozenset(presence_audience(work.session, user_id))
        work.record(PresenceChanged(user_id, True, None, audience))
        return
    # The user has other live connections: they can take what queued right away.
    others = connections.of_users([user_id]).get(user_id, set())
    others.discard(connection.connection_id)
    if others:
        deliver_queued(work, user_id, others)


def close_session(work: UnitOfWork, connection_id: str) -> None:
    """$disconnect (idempotent): forget the connection; offline with its user's last one."""
    user_id, last = connections.remove(connection_id)
    if user_id is not None and last:
        users_went_offline(work, {user_id})


def users_went_offline(work: UnitOfWork, user_ids: Iterable[uuid.UUID]) -> None:
    """Users whose last connection closed (or answered 410): lastSeenAt and `users:update`."""
    for user_id in user_ids:
        if connections.count(user_id):
            continue  # reconnected in the meantime
        at = presence.mark_offline(user_id)
        with work.step() as session:
            session.execute(update(User).where(User.id == user_id).values(last_seen_at=at))
            emit(
                session,
                USER_OFFLINE,
                user_id,
                {"userId": str(user_id), "lastSeenAt": at.isoformat()},
            )
            audience = frozenset(presence_audience(session, user_id))
        logger.info("user offline", extra={"offlineUserId": str(user_id)})
        work.record(PresenceChanged(user_id, False, at, audience))


def deliver_queued(work: UnitOfWork, user_id: uuid.UUID, connection_ids: Iterable[str]) -> None:
    """What queued for `user_id` (receipts still SENT) is due to these connections.

    Once committed, the notifier pushes it and marks what arrived DELIVERED.
    """
    with work.step() as session:
        queued = session.scalars(
            select(Message)
            .join(Receipt, Receipt.message_id == Message.id)
            .where(Receipt.user_id == user_id, Receipt.status == ReceiptStatus.SENT.value)
            .order_by(Receipt.chat_id, Receipt.seq)
            .limit(CATCH_UP_LIMIT)
        ).all()
        statuses = aggregate_statuses(session, [message.id for message in queued])
        views = [message_view(message, statuses.get(message.id)) for message in queued]
    if views:
        work.record(QueuedMessages(user_id, tuple(connection_ids), tuple(views)))


def list_users(session: Session, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """`users:list`: the users sharing a chat with the caller, with presence."""
    contacts = contacts_of(session, user_id)
    if not contacts:
        return []
    users = session.scalars(select(User).where(User.id.in_(contacts)).order_by(User.username))
    presences = presence.of_users(contacts)
    return [user_view(user, presences.get(user.id)) for user in users]


# --- actions -----------------------------------------------------------------


def users_list(ctx: ActionContext, _data: NoData) -> Listing:
    return Listing("users", list_users(ctx.session, ctx.user_id))


def ping(ctx: ActionContext, _data: NoData) -> str:
    """`ping`: keep the connection registered for another TTL, and its user online."""
    connections.refresh(ctx.connection_id, ctx.user_id)
    presence.heartbeat(ctx.user_id)
    return "pong"


def unknown_action(ctx: ActionContext, _data: NoData) -> None:
    """`$default`: a frame whose action no route serves."""
    raise UnknownAction(f"unknown action {ctx.action!r}")
