"""Refresh tokens: stored hashed, good for one use, revoked by family.

A family is the chain of refresh tokens that one login produces. Each
refresh spends its token and issues the next one in the same family. A
token presented a second time means it leaked (or the client is replaying
it): the whole family is revoked, so the thief's newer token dies with it.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from parley.auth.tokens import ACCESS, REFRESH, InvalidToken, decode_token, issue_token
from parley.db.models import RefreshToken
from parley.observability import logger
from parley.protocol.errors import Unauthorized


class RefreshTokenReused(Unauthorized):
    """A spent refresh token came back; its family is now revoked."""


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    family_id: uuid.UUID


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_pair(
    session: Session, user_id: uuid.UUID, family_id: uuid.UUID | None = None
) -> TokenPair:
    """A new access token and a new refresh token (a new family unless given)."""
    family_id = family_id or uuid.uuid4()
    access_token, _ = issue_token(user_id, ACCESS)
    refresh_token, claims = issue_token(user_id, REFRESH, family_id=family_id)
    session.add(
        RefreshToken(
            id=claims.token_id,
            user_id=user_id,
            family_id=family_id,
            token_hash=token_hash(refresh_token),
            expires_at=claims.expires_at,
        )
    )
    return TokenPair(access_token, refresh_token, family_id)


def rotate(session: Session, refresh_token: str) -> tuple[uuid.UUID, TokenPair]:
    """Spend a refresh token for a new pair; returns (user id, pair).

    On reuse the family's revocation is committed before the refusal is
    raised: the caller's unit of work rolls back on errors, and the
    revocation must outlive this request.
    """
    stored = _stored_token(session, refresh_token, lock=True)
    if stored.revoked_at is not None:
        raise Unauthorized("refresh token revoked")
    if stored.used_at is not None:
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
        raise RefreshTokenReused("refresh token already used; please sign in again")
    stored.used_at = datetime.now(UTC)
    return stored.user_id, issue_pair(session, stored.user_id, stored.family_id)


def revoke_family_of(session: Session, user_id: uuid.UUID, refresh_token: str) -> int:
    """Revoke the family of one of `user_id`'s refresh tokens; returns tokens revoked."""
    stored = _stored_token(session, refresh_token, lock=False)
    if stored.user_id != user_id:
        raise Unauthorized("invalid refresh token")
    return _revoke_families(session, user_id, stored.family_id)


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
