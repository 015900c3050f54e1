"""Typing indicators: never stored; at most one frame per user per chat per interval."""

from __future__ import annotations

import math
from typing import Any

from parley.chat.context import ActionContext
from parley.chat.membership import require_member
from parley.chat.messages import member_ids
from parley.config import get_settings
from parley.protocol.frames import Typing, typing_frame
from parley.stores import ratelimit


def typing(ctx: ActionContext, data: Typing) -> dict[str, Any]:
    """`typing`: tell the other members; repeats within the interval are absorbed."""
    require_member(ctx.session, data.chat_id, ctx.user_id)
    interval = max(1, math.ceil(get_settings().typing_interval_seconds))
    decision = ratelimit.hit(f"ws:typing:{data.chat_id}:{ctx.user_id}", 1, interval)
    if decision.allowed:
        others = member_ids(ctx.session, data.chat_id) - {ctx.user_id}
        indicator = typing_frame(data.chat_id, ctx.user_id, data.is_typing)
        ctx.after_commit(lambda: ctx.pusher.to_users(others, indicator))
    return {"chatId": str(data.chat_id), "isTyping": data.is_typing, "sent": decision.allowed}
