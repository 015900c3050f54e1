"""Typing indicators: never stored; at most one start per user per chat per interval."""

from __future__ import annotations

import math
import uuid
from typing import Any

from parley.chat.context import ActionContext
from parley.chat.membership import chat_members
from parley.chat.outcomes import TypingChanged
from parley.config import get_settings
from parley.protocol.frames import Typing
from parley.stores import ratelimit


def typing(ctx: ActionContext, data: Typing) -> dict[str, Any]:
    """`typing`: tell the other members; repeated starts within the interval are absorbed.

    A stop always goes out (an indicator left showing is worse than one frame
    more) and reopens the interval, so the next start shows at once.

    In a big chat (more than `big_chat_members`) a push reaches every member,
    so the chat as a whole shows at most one start per interval, and stops
    are not pushed: the receivers let the indicator lapse.
    """
    members = chat_members(ctx.session, data.chat_id, ctx.user_id)
    settings = get_settings()
    big = len(members) > settings.big_chat_members
    interval = max(1, math.ceil(settings.typing_interval_seconds))
    if data.is_typing:
        sent = ratelimit.hit(_window_key(data.chat_id, ctx.user_id), 1, interval).allowed
        if sent and big:
            sent = ratelimit.hit(f"ws:typing:{data.chat_id}", 1, interval).allowed
    else:
        reopen_window(data.chat_id, ctx.user_id)
        sent = not big
    if sent:
        others = frozenset(members - {ctx.user_id})
        ctx.tell(TypingChanged(data.chat_id, ctx.user_id, data.is_typing, others))
    return {"chatId": str(data.chat_id), "isTyping": data.is_typing, "sent": sent}


def reopen_window(chat_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """A sent message ends the indicator at the receivers: the next keystroke may show it."""
    ratelimit.reset(_window_key(chat_id, user_id))


def _window_key(chat_id: uuid.UUID, user_id: uuid.UUID) -> str:
    return f"ws:typing:{chat_id}:{user_id}"
