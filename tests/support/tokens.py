"""Refresh tokens as a test ages them."""

from __future__ import annotations

import uuid


def spent_long_ago(user_id: uuid.UUID) -> None:
    """Move the spending of the user's used refresh tokens past the reuse interval."""
    from datetime import timedelta

    from sqlalchemy import update

    from parley.config import get_settings
    from parley.db import session_scope
    from parley.db.models import RefreshToken

    back = timedelta(seconds=get_settings().refresh_token_reuse_interval_seconds + 1)
    with session_scope() as session:
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.used_at.is_not(None))
            .values(used_at=RefreshToken.used_at - back)
        )
