"""Registration, sign-in and profiles.

Usernames are stored lower-case and compared lower-case, so "Ada" and "ada"
are one account. Every change writes its event in the same transaction.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from parley.auth import passwords
from parley.chat.views import user_view
from parley.db.models import User
from parley.events.catalog import USER_LOGGED_IN, USER_REGISTERED
from parley.events.outbox import emit
from parley.protocol.errors import BadRequest, Conflict, NotFound, Unauthorized
from parley.stores import presence
from parley.stores.presence import Presence

USERNAME_PATTERN = r"^[a-z0-9_.-]{3,32}$"
USERNAME_MIN, USERNAME_MAX = 3, 32
PASSWORD_MIN, PASSWORD_MAX = 8, 128
DISPLAY_NAME_MAX = 64
_USERNAME = re.compile(USERNAME_PATTERN)


def normalize_username(raw: str) -> str:
    username = raw.strip().lower()
    if not _USERNAME.fullmatch(username):
        raise BadRequest(
            "username must be 3-32 characters of a-z, 0-9, '_', '.' or '-'", field="username"
        )
    return username


def register(
    session: Session, username: str, password: str, display_name: str | None = None
) -> User:
    username = normalize_username(username)
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise BadRequest("password must be 8-128 characters", field="password")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("username is taken", field="username")
    user = User(
        id=uuid.uuid4(),
        username=username,
        display_name=display_name or None,
        password_hash=passwords.hash_password(password),
    )
    try:
        # A concurrent registration of the same name loses at the unique index.
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("username is taken", field="username") from exc
    session.refresh(user)
    emit(
        session,
        USER_REGISTERED,
        user.id,
        {
            "userId": str(user.id),
            "username": user.username,
            "displayName": user.display_name,
            "createdAt": user.created_at.isoformat(),
        },
    )
    return user


def authenticate(session: Session, username: str, password: str, *, source_ip: str) -> User:
    """The user whose credentials these are, or Unauthorized (same answer for either miss)."""
    user = session.scalars(select(User).where(User.username == username.strip().lower())).first()
    if not passwords.verify_password(user.password_hash if user else None, password):
        raise Unauthorized("wrong username or password")
    assert user is not None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    emit(
        session,
        USER_LOGGED_IN,
        user.id,
        {
            "userId": str(user.id),
            "username": user.username,
            "sourceIp": source_ip,
            "at": datetime.now(UTC).isoformat(),
        },
    )
    return user


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


def update_profile(session: Session, user: User, *, display_name: str | None) -> User:
    user.display_name = display_name or None
    session.flush()
    return user


def profile(user: User) -> dict:
    """A user as clients see them, presence included."""
    return user_view(user, presence.of_users([user.id]).get(user.id))


def profiles(users: Sequence[User]) -> list[dict]:
    presences: dict[uuid.UUID, Presence] = presence.of_users([user.id for user in users])
    return [user_view(user, presences.get(user.id)) for user in users]


def search(session: Session, *, query: str | None, online: bool | None, limit: int) -> list[User]:
    """Users whose username or display name contains `query`, by username.

    `online` narrows to users online (True) or offline (False) right now.
    """
    statement = select(User).order_by(User.username).limit(limit)
    if query:
        pattern = f"%{_escape_like(query.strip().lower())}%"
        statement = statement.where(
            or_(
                User.username.like(pattern, escape="\\"),
                func.lower(User.display_name).like(pattern, escape="\\"),
            )
        )
    if online is not None:
        online_ids = presence.online_user_ids()
        statement = statement.where(
            User.id.in_(online_ids) if online else User.id.not_in(online_ids)
        )
    return list(session.scalars(statement))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
