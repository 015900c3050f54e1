"""Who may touch a chat: every action checks membership first (DESIGN §6)."""

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


def member_ids(session: Session, chat_id: uuid.UUID) -> set[uuid.UUID]:
    return set(session.scalars(select(ChatMember.user_id).where(ChatMember.chat_id == chat_id)))
