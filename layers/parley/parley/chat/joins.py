"""Joining and leaving chats over the WebSocket: public groups only are open to join."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from parley.chat.chats import MemberChange, member_leaves, require_room
from parley.chat.context import ActionContext
from parley.chat.membership import member_ids, require_member
from parley.chat.views import chat_view
from parley.db.models import Chat, ChatMember, ChatType, MemberRole
from parley.events.catalog import CHAT_MEMBER_JOINED
from parley.events.outbox import emit
from parley.protocol.errors import NotFound
from parley.protocol.frames import ChatRef


def join_chat(ctx: ActionContext, data: ChatRef) -> dict[str, Any]:
    """`chat:join`: a public group; joining twice is answered like the first time."""
    chat = ctx.session.scalars(
        select(Chat).where(Chat.id == data.chat_id).with_for_update()
    ).one_or_none()
    # A private chat answers like a missing one: its existence is not revealed.
    if chat is None or chat.type != ChatType.GROUP.value or not chat.is_public:
        raise NotFound("chat not found")
    already = ctx.session.get(ChatMember, (chat.id, ctx.user_id))
    if already is None:
        require_room(len(member_ids(ctx.session, chat.id)), 1)
        ctx.session.add(
            ChatMember(
                chat_id=chat.id,
                user_id=ctx.user_id,
                role=MemberRole.MEMBER.value,
                # Only what is sent from now on counts as unread for the newcomer.
                last_read_seq=chat.last_seq,
            )
        )
        ctx.session.flush()
        emit(
            ctx.session,
            CHAT_MEMBER_JOINED,
            chat.id,
            {"chatId": str(chat.id), "userId": str(ctx.user_id), "by": str(ctx.user_id)},
        )
        members = frozenset(member_ids(ctx.session, chat.id))
        ctx.tell(MemberChange(chat.id, ctx.user_id, "joined", ctx.user_id, members))
    return chat_view(chat)


def leave_chat(ctx: ActionContext, data: ChatRef) -> dict[str, Any]:
    """`chat:leave`: a group the caller is in; afterwards the chat is closed to them."""
    require_member(ctx.session, data.chat_id, ctx.user_id)
    change = member_leaves(ctx.session, data.chat_id, ctx.user_id, by=ctx.user_id)
    chat = ctx.session.get(Chat, data.chat_id)
    ctx.tell(change)
    return {**chat_view(chat), "left": True}
