"""Who may touch a chat or its messages: every action checks membership first (DESIGN §6)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from parley.db.models import ChatMember
from parley.protocol.errors import NotFound


def require_member(session: Session, chat_id: uuid.UUID, user_id: uuid.UUID) -> ChatMember:
    """The caller's membership row, or NotFound.

    A chat the caller is not in answers exactly like a chat that does not
    exist, so chat ids cannot be probed.
    """
    member = session.scalars(
        select(ChatMember).where(ChatMember.chat_id == chat_id, ChatMember.user_id == user_id)
    ).one_or_none()
    if member is None:
        raise NotFound("chat not found")
    return member


def require_message_member(
    session: Session,
    user_id: uuid.UUID,
    message_chat_id: uuid.UUID | None,
    *,
    chat_id: uuid.UUID | None = None,
) -> None:
    """NotFound unless the message (in `message_chat_id`; None when it does not exist)
    is in a chat the caller is in, and in `chat_id` when one is given.

    Every case answers the same, so message ids cannot be probed either.
    """
    if (
        message_chat_id is None
        or (chat_id is not None and message_chat_id != chat_id)
        or not is_member(session, message_chat_id, user_id)
    ):
        raise NotFound("message not found")


def is_member(session: Session, chat_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return session.get(ChatMember, (chat_id, user_id)) is not None


def member_ids(session: Session, chat_id: uuid.UUID) -> set[uuid.UUID]:
    return set(session.scalars(select(ChatMember.user_id).where(ChatMember.chat_id == chat_id)))


def chat_members(session: Session, chat_id: uuid.UUID, user_id: uuid.UUID) -> set[uuid.UUID]:
    """Every member of a chat the caller is in (one query); NotFound as `require_member`."""
    members = member_ids(session, chat_id)
    if user_id not in members:
        raise NotFound("chat not found")
    return members
