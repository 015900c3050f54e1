"""Pins: any member may pin or unpin a message of the chat, up to a limit per chat."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from parley.chat.context import ActionContext
from parley.chat.messages import current_view, load_for_member, publish_change
from parley.config import get_settings
from parley.db.models import Chat, Message
from parley.events.catalog import MESSAGE_PINNED, MESSAGE_UNPINNED
from parley.protocol.errors import Conflict
from parley.protocol.frames import MessageRef


def pin_message(ctx: ActionContext, data: MessageRef) -> dict[str, Any]:
    """`message:pin` (pinning a pinned message answers it as it is)."""
    message = load_for_member(
        ctx.session, data.message_id, ctx.user_id, chat_id=data.chat_id, lock=True
    )
    if message.deleted_at is not None:
        raise Conflict("a deleted message cannot be pinned")
    if message.is_pinned:
        return current_view(ctx.session, message)
    # The chat row lock orders concurrent pins, so the limit holds.
    ctx.session.execute(select(Chat.id).where(Chat.id == message.chat_id).with_for_update())
    pinned = ctx.session.scalar(
        select(func.count()).where(Message.chat_id == message.chat_id, Message.is_pinned)
    )
    limit = get_settings().max_pins_per_chat
    if pinned >= limit:
        raise Conflict(f"a chat holds at most {limit} pinned messages")
    message.is_pinned = True
    message.pinned_at = datetime.now(UTC)
    message.pinned_by = ctx.user_id
    return publish_change(ctx, message, MESSAGE_PINNED, "message:pinned")


def unpin_message(ctx: ActionContext, data: MessageRef) -> dict[str, Any]:
    """`message:unpin` (unpinning a message that is not pinned answers it as it is)."""
    message = load_for_member(
        ctx.session, data.message_id, ctx.user_id, chat_id=data.chat_id, lock=True
    )
    if not message.is_pinned:
        return current_view(ctx.session, message)
    message.is_pinned = False
    message.pinned_at = None
    message.pinned_by = None
    return publish_change(ctx, message, MESSAGE_UNPINNED, "message:unpinned")
