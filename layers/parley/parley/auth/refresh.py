"""Refresh tokens: stored hashed, good for one use, revoked by family.

A family is the chain of refresh tokens that one login produces: a session.
Its id is the `sid` claim of every access token of that sign-in. Each
refresh spends its token and issues the next one in the same family. A
token presented a second time means it leaked (or the client is replaying
it): the whole family is revoked, so the thief's newer token dies with it.

Two tabs of one browser share a refresh token and may spend it at the same
moment: within `refresh_token_reuse_interval_seconds` of the first use, a
second use gets the very same successor pair (rebuilt, never stored: its
ids and times derive from the spent token's), and nothing is revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from parley.auth.tokens import (
    ACCESS,
    REFRESH,
    InvalidToken,
    TokenClaims,
    decode_token,
    issue_token,
)
from parley.config import get_settings
from parley.db.models import RefreshToken
from parley.observability import logger
from parley.protocol.errors import Unauthorized


class RefreshTokenReused(Unauthorized):
    """A spent refresh token came back; its family is now revoked."""

    def __init__(self, message: str, *, user_id: uuid.UUID, family_id: uuid.UUID) -> None:
        super().__init__(message)
        self.user_id = user_id
        self.family_id = family_id


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    family_id: uuid.UUID


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_pair(
    session: Session,
    user_id: uuid.UUID,
    family_id: uuid.UUID | None = None,
    *,
    successor_of: RefreshToken | None = None,
) -> TokenPair:
    """A new access token and a new refresh token (a new family unless given)."""
    pair, claims = _pair(user_id, family_id or uuid.uuid4(), successor_of)
    session.add(
        RefreshToken(
            id=claims.token_id,
            user_id=user_id,
            family_id=pair.family_id,
            token_hash=token_hash(pair.refresh_token),
            expires_at=claims.expires_at,
        )
    )
    return pair


def _pair(
    user_id: uuid.UUID, family_id: uuid.UUID, successor_of: RefreshToken | None
) -> tuple[TokenPair, TokenClaims]:
    """The tokens; a successor's are a function of the spent token, so they can be rebuilt."""
    ids: tuple[uuid.UUID | None, uuid.UUID | None] = (None, None)
    now = None
    if successor_of is not None:
        ids = (uuid.uuid5(successor_of.id, ACCESS), uuid.uuid5(successor_of.id, REFRESH))
        now = successor_of.used_at
    access_token, _ = issue_token(user_id, ACCESS, session_id=family_id, token_id=ids[0], now=now)
    refresh_token, claims = issue_token(
        user_id, REFRESH, family_id=family_id, token_id=ids[1], now=now
    )
    return TokenPair(access_token, refresh_token, family_id), claims


def rotate(session: Session, refresh_token: str) -> tuple[uuid.UUID, TokenPair]:
    """Spend a refresh token for a new pair; returns (user id, pair).

    A second use within the reuse interval returns the same successor pair.
    A reuse after it revokes the family; the revocation is committed before
    the refusal is raised: the caller's unit of work rolls back on errors,
    and the revocation must outlive this request.
    """
    stored = _stored_token(session, refresh_token, lock=True)
    if stored.revoked_at is not None:
        raise Unauthorized("refresh token revoked")
    if stored.used_at is not None:
        replayed = _same_successor(session, stored)
        if replayed is not None:
            return stored.user_id, replayed
        revoked = _revoke_families(session, stored.user_id, stored.family_id)
        session.commit()
        logger.warning(
            "refresh token reused; family revoked",
            extra={
                "userId": str(stored.user_id),
                "familyId": str(stored.family_id),
                "revoked": revoked,
            },
        )
        raise RefreshTokenReused(
            "refresh token already used; please sign in again",
            user_id=stored.user_id,
            family_id=stored.family_id,
        )
    stored.used_at = datetime.now(UTC)
    pair = issue_pair(session, stored.user_id, stored.family_id, successor_of=stored)
    return stored.user_id, pair


def _same_successor(session: Session, spent: RefreshToken) -> TokenPair | None:
    """The pair `spent` was traded for, while within the reuse interval and still live."""
    assert spent.used_at is not None
    interval = timedelta(seconds=get_settings().refresh_token_reuse_interval_seconds)
    if datetime.now(UTC) - spent.used_at > interval:
        return None
    pair, claims = _pair(spent.user_id, spent.family_id, spent)
    successor = session.get(RefreshToken, claims.token_id)
    if (
        successor is None
        or successor.revoked_at is not None
        or not hmac.compare_digest(successor.token_hash, token_hash(pair.refresh_token))
    ):
        return None
    return pair


def session_revoked(session: Session, session_id: uuid.UUID) -> bool:
    """Whether the sign-in `session_id` (a refresh-token family) was ended."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    RefreshToken.family_id == session_id, RefreshToken.revoked_at.is_not(None)
                )
            )
        )
    )


def revoke_others(session: Session, user_id: uuid.UUID, keep: uuid.UUID | None) -> int:
    """Revoke every refresh-token family of the user but `keep` (the caller's sign-in)."""
    statement = (
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
        .execution_options(synchronize_session="fetch")
    )
    if keep is not None:
        statement = statement.where(RefreshToken.family_id != keep)
    return session.execute(statement).rowcount


def revoke_family_of(session: Session, user_id: uuid.UUID, refresh_token: str) -> uuid.UUID:
    """Revoke the family of one of `user_id`'s refresh tokens; returns the family."""
    stored = _stored_token(session, refresh_token, lock=False)
    if stored.user_id != user_id:
        raise Unauthorized("invalid refresh token")
    _revoke_families(session, user_id, stored.family_id)
    return stored.family_id


def revoke_session(session: Session, user_id: uuid.UUID, session_id: uuid.UUID) -> int:
    """Revoke one sign-in of the user by its id (the access token's `sid`)."""
    return _revoke_families(session, user_id, session_id)


def revoke_all(session: Session, user_id: uuid.UUID) -> int:
    """Revoke every refresh token the user holds (sign out everywhere)."""
    return _revoke_families(session, user_id, None)


def _stored_token(session: Session, refresh_token: str, *, lock: bool) -> RefreshToken:
    try:
        claims = decode_token(refresh_token, REFRESH)
    except InvalidToken as exc:
        raise Unauthorized(f"invalid refresh token: {exc}") from exc
    # Concurrent refreshes of one token serialize on the row lock: one wins,
    # the other sees it spent.
    stored = session.get(RefreshToken, claims.token_id, with_for_update=lock)
    if stored is None or not hmac.compare_digest(stored.token_hash, token_hash(refresh_token)):
        raise Unauthorized("invalid refresh token")
    return stored


def _revoke_families(session: Session, user_id: uuid.UUID, family_id: uuid.UUID | None) -> int:
    statement = (
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
        .execution_options(synchronize_session="fetch")
    )
    if family_id is not None:
        statement = statement.where(RefreshToken.family_id == family_id)
    return session.execute(statement).rowcount
