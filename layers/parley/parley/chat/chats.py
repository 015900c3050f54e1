"""Chats and their members: creating, listing, adding and removing.

A direct chat joins exactly two users, once per pair (`Chat.direct_key`).
A group has a title, 2-256 members and at least one admin; its creator is
the first admin. Every change writes its event in the same transaction and
returns the `MemberChange`s (outcomes: `parley.notify` tells the live
connections once committed).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import and_, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parley.chat import receipts
from parley.chat.history import aggregate_statuses, visible_message_view
from parley.chat.membership import member_ids, require_member
from parley.chat.views import chat_view, user_view
from parley.config import get_settings
from parley.db.models import (
    Chat,
    ChatMember,
    ChatType,
    MemberRole,
    Message,
    Receipt,
    ReceiptStatus,
    User,
)
from parley.events.catalog import CHAT_CREATED, CHAT_MEMBER_JOINED, CHAT_MEMBER_LEFT
from parley.events.outbox import emit
from parley.protocol.errors import BadRequest, Conflict, Forbidden, NotFound
from parley.stores import presence

GROUP_MIN_MEMBERS = 2
# Users one request may name; the group's own limit is the `group_max_members` setting.
MEMBER_IDS_PER_REQUEST = 1000
TITLE_MAX = 128


def require_room(members: int, joining: int, *, field: str | None = None) -> None:
    """Refuse what would take a group past `group_max_members`."""
    limit = get_settings().group_max_members
    if members + joining > limit:
        raise Conflict(f"a group holds at most {limit} members", field=field)


@dataclass(frozen=True)
class MemberChange:
    """Someone joined or left a chat, and who is to hear it (`chat:member`) after the commit."""

    chat_id: uuid.UUID
    user_id: uuid.UUID
    event: Literal["joined", "left"]
    by: uuid.UUID
    audience: frozenset[uuid.UUID]
    # A leave can move aggregates (its pending receipts go): the senders hear those.
    status_changes: receipts.StatusChanges = field(default_factory=receipts.StatusChanges)


def direct_key(first: uuid.UUID, second: uuid.UUID) -> str:
    """The pair's key, the same whichever of the two asks."""
    low, high = sorted((str(first), str(second)))
    return f"{low}:{high}"


def create_direct(
    session: Session, creator_id: uuid.UUID, other_id: uuid.UUID
) -> tuple[Chat, list[MemberChange]]:
    """The pair's direct chat and who joined it: nobody when it existed already."""
    if other_id == creator_id:
        raise BadRequest("a direct chat needs one other member", field="memberIds")
    _require_users(session, [other_id])
    key = direct_key(creator_id, other_id)
    existing = session.scalars(select(Chat).where(Chat.direct_key == key)).first()
    if existing is not None:
        return existing, []
    chat = Chat(id=uuid.uuid4(), type=ChatType.DIRECT.value, direct_key=key, created_by=creator_id)
    try:
        # Both users may open the chat at the same moment: one insert wins at
        # the unique key, the other returns the winner's chat.
        with session.begin_nested():
            session.add(chat)
            session.flush()
    except IntegrityError:
        return session.scalars(select(Chat).where(Chat.direct_key == key)).one(), []
    members = [creator_id, other_id]
    session.add_all(
        ChatMember(chat_id=chat.id, user_id=user_id, role=MemberRole.MEMBER.value)
        for user_id in members
    )
    session.flush()
    session.refresh(chat)
    _emit_created(session, chat, members)
    return chat, _arrivals(chat.id, members, creator_id)


def create_group(
    session: Session,
    creator_id: uuid.UUID,
    *,
    title: str,
    member_ids: Iterable[uuid.UUID],
    is_public: bool = False,
) -> tuple[Chat, list[MemberChange]]:
    title = title.strip()
    if not title:
        raise BadRequest("a group needs a title", field="title")
    members = list(dict.fromkeys([creator_id, *member_ids]))
    limit = get_settings().group_max_members
    if not GROUP_MIN_MEMBERS <= len(members) <= limit:
        raise BadRequest(
            f"a group has {GROUP_MIN_MEMBERS}-{limit} members, creator included",
            field="memberIds",
        )
    _require_users(session, members)
    chat = Chat(
        id=uuid.uuid4(),
        type=ChatType.GROUP.value,
        title=title,
        is_public=is_public,
        created_by=creator_id,
    )
    session.add(chat)
    session.flush()
    session.add_all(
        ChatMember(
            chat_id=chat.id,
            user_id=user_id,
            role=(MemberRole.ADMIN if user_id == creator_id else MemberRole.MEMBER).value,
        )
        for user_id in members
    )
    session.flush()
    session.refresh(chat)
    _emit_created(session, chat, members)
    return chat, _arrivals(chat.id, members, creator_id)


def list_chats(session: Session, viewer_id: uuid.UUID) -> list[dict[str, Any]]:
    """The viewer's chats, the most recent activity first."""
    activity = func.coalesce(Chat.last_message_at, Chat.created_at)
    chats = list(
        session.scalars(
            select(Chat)
            .join(ChatMember, ChatMember.chat_id == Chat.id)
            .where(ChatMember.user_id == viewer_id)
            .order_by(activity.desc(), Chat.id)
        )
    )
    return summaries(session, viewer_id, chats)


def get_chat(session: Session, chat_id: uuid.UUID, viewer_id: uuid.UUID) -> dict[str, Any]:
    require_member(session, chat_id, viewer_id)
    chat = session.get(Chat, chat_id)
    assert chat is not None  # a membership row implies its chat
    return summaries(session, viewer_id, [chat])[0]


def add_members(
    session: Session, chat_id: uuid.UUID, actor_id: uuid.UUID, user_ids: Iterable[uuid.UUID]
) -> list[MemberChange]:
    """Add users to a group (admins only): one change per user who was not a member yet."""
    actor = require_member(session, chat_id, actor_id)
    chat = _lock_group(session, chat_id)
    if actor.role != MemberRole.ADMIN.value:
        raise Forbidden("only a group's admins may add members")
    wanted = list(dict.fromkeys(user_ids))
    _require_users(session, wanted, field="userIds")
    current = set(session.scalars(select(ChatMember.user_id).where(ChatMember.chat_id == chat_id)))
    added = [user_id for user_id in wanted if user_id not in current]
    require_room(len(current), len(added), field="userIds")
    for user_id in added:
        session.add(ChatMember(chat_id=chat.id, user_id=user_id, role=MemberRole.MEMBER.value))
    session.flush()
    for user_id in added:
        emit(
            session,
            CHAT_MEMBER_JOINED,
            chat.id,
            {
                "chatId": str(chat.id),
                "userId": str(user_id),
                "role": MemberRole.MEMBER.value,
                "by": str(actor_id),
            },
        )
    everyone = frozenset(current) | frozenset(added)
    return [MemberChange(chat.id, user_id, "joined", actor_id, everyone) for user_id in added]


def remove_member(
    session: Session, chat_id: uuid.UUID, actor_id: uuid.UUID, user_id: uuid.UUID
) -> MemberChange:
    """Remove a member from a group: an admin removes anyone, a member only themselves."""
    actor = require_member(session, chat_id, actor_id)
    _lock_group(session, chat_id)
    if user_id != actor_id and actor.role != MemberRole.ADMIN.value:
        raise Forbidden("only a group's admins may remove other members")
    return member_leaves(session, chat_id, user_id, by=actor_id)


def member_leaves(
    session: Session, chat_id: uuid.UUID, user_id: uuid.UUID, *, by: uuid.UUID
) -> MemberChange:
    """A member leaves a group (by themselves or removed by `by`), over REST or the WebSocket.

    Under the chat's row lock: the membership goes, the group keeps an admin,
    and what still queued for the leaver in the chat is withdrawn. Everyone
    who was a member before, the leaver included, is to hear of it.
    """
    chat = _lock_group(session, chat_id)
    audience = frozenset(member_ids(session, chat.id))
    gone = session.execute(
        delete(ChatMember)
        .where(ChatMember.chat_id == chat.id, ChatMember.user_id == user_id)
        .returning(ChatMember.user_id)
    ).first()
    if gone is None:
        raise NotFound("not a member of this chat")
    _keep_an_admin(session, chat.id)
    status_changes = receipts.withdraw_pending(session, chat.id, user_id)
    emit(
        session,
        CHAT_MEMBER_LEFT,
        chat.id,
        {
            "chatId": str(chat.id),
            "userId": str(user_id),
            "by": str(by),
            "reason": "left" if user_id == by else "removed",
        },
    )
    return MemberChange(chat.id, user_id, "left", by, audience, status_changes)


def summaries(session: Session, viewer_id: uuid.UUID, chats: Sequence[Chat]) -> list[dict]:
    """Chats as their members list them: members, unread count and last message.

    A fixed handful of queries whatever the number of chats.
    """
    if not chats:
        return []
    chat_ids = [chat.id for chat in chats]
    members: dict[uuid.UUID, list[tuple[ChatMember, User]]] = defaultdict(list)
    for member, user in session.execute(
        select(ChatMember, User)
        .join(User, User.id == ChatMember.user_id)
        .where(ChatMember.chat_id.in_(chat_ids))
        .order_by(ChatMember.joined_at, User.username)
    ):
        members[member.chat_id].append((member, user))
    unread = {
        chat_id: count
        for chat_id, count in session.execute(
            select(Receipt.chat_id, func.count())
            .where(
                Receipt.user_id == viewer_id,
                Receipt.chat_id.in_(chat_ids),
                Receipt.status < ReceiptStatus.READ.value,
            )
            .group_by(Receipt.chat_id)
        )
    }
    last_messages = {
        message.chat_id: message
        for message in session.scalars(
            select(Message)
            .join(Chat, and_(Chat.id == Message.chat_id, Chat.last_seq == Message.seq))
            .where(Chat.id.in_(chat_ids))
        )
    }
    statuses = aggregate_statuses(session, (message.id for message in last_messages.values()))
    presences = presence.of_users(user.id for rows in members.values() for _, user in rows)
    result = []
    for chat in chats:
        last = last_messages.get(chat.id)
        result.append(
            {
                **chat_view(chat),
                "members": [
                    {**user_view(user, presences.get(user.id)), "role": member.role}
                    for member, user in members[chat.id]
                ],
                "unreadCount": unread.get(chat.id, 0),
                "lastMessage": visible_message_view(last, statuses.get(last.id)) if last else None,
            }
        )
    return result


def _emit_created(session: Session, chat: Chat, member_ids: list[uuid.UUID]) -> None:
    emit(
        session,
        CHAT_CREATED,
        chat.id,
        {
            "chatId": str(chat.id),
            **chat_view(chat),
            "memberIds": [str(user_id) for user_id in member_ids],
        },
    )


def _arrivals(
    chat_id: uuid.UUID, members: Iterable[uuid.UUID], creator_id: uuid.UUID
) -> list[MemberChange]:
    """A new chat: each member hears of their own arrival (one frame each, not one per pair)."""
    return [
        MemberChange(chat_id, user_id, "joined", creator_id, frozenset({user_id}))
        for user_id in members
    ]


def _lock_group(session: Session, chat_id: uuid.UUID) -> Chat:
    # The row lock serializes membership changes, so the size limit holds.
    chat = session.get(Chat, chat_id, with_for_update=True)
    if chat is None:
        raise NotFound("chat not found")
    if chat.type != ChatType.GROUP.value:
        raise Forbidden("a direct chat's members cannot change")
    return chat


def _keep_an_admin(session: Session, chat_id: uuid.UUID) -> None:
    """When the last admin leaves, the longest-standing member becomes one."""
    remaining = list(
        session.scalars(
            select(ChatMember)
            .where(ChatMember.chat_id == chat_id)
            .order_by(ChatMember.joined_at, ChatMember.user_id)
        )
    )
    if remaining and not any(m.role == MemberRole.ADMIN.value for m in remaining):
        remaining[0].role = MemberRole.ADMIN.value
        session.flush()


def _require_users(
    session: Session, user_ids: Sequence[uuid.UUID], *, field: str = "memberIds"
) -> None:
    found = set(session.scalars(select(User.id).where(User.id.in_(user_ids))))
    missing = [str(user_id) for user_id in user_ids if user_id not in found]
    if missing:
        raise BadRequest(f"unknown users: {', '.join(missing)}", field=field)
