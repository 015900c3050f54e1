"""JWT access tokens (HS256, explicit algorithm list)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from parley.auth.secrets import get_jwt_secret
from parley.config import get_settings

ALGORITHM = "HS256"
ACCESS = "access"
REFRESH = "refresh"


class InvalidToken(Exception):
    """Missing, forged, expired or of the wrong type."""


class ExpiredToken(InvalidToken):
    """Well signed, but past its expiry."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    token_id: uuid.UUID
    token_type: str
    expires_at: datetime
    family_id: uuid.UUID | None = None
    # Access tokens: the sign-in they belong to (its refresh-token family),
    # so that ending the sign-in can end its live sockets.
    session_id: uuid.UUID | None = None


def issue_token(
    user_id: uuid.UUID,
    token_type: str = ACCESS,
    *,
    family_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    token_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> tuple[str, TokenClaims]:
    settings = get_settings()
    now = now or datetime.now(UTC)
    ttl = (
        settings.access_token_ttl_seconds
        if token_type == ACCESS
        else settings.refresh_token_ttl_seconds
    )
    claims = TokenClaims(
        user_id=user_id,
        token_id=token_id or uuid.uuid4(),
        token_type=token_type,
        expires_at=now + timedelta(seconds=ttl),
        family_id=family_id,
        session_id=session_id,
    )
    payload = {
        "sub": str(user_id),
        "iat": int(now.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
        "jti": str(claims.token_id),
        "typ": token_type,
    }
    if family_id is not None:
        payload["fam"] = str(family_id)
    if session_id is not None:
        payload["sid"] = str(session_id)
    # PyJWT loads here: only the routes that sign or check a token import it.
    import jwt

    return jwt.encode(payload, get_jwt_secret(), algorithm=ALGORITHM), claims


def decode_token(token: str | None, expected_type: str = ACCESS) -> TokenClaims:
    if not token:
        raise InvalidToken("missing token")
    import jwt

    try:
        payload = jwt.decode(
            token,
            get_jwt_secret(),
            algorithms=[ALGORITHM],
            options={"require": ["sub", "exp", "iat", "jti", "typ"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise ExpiredToken("token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidToken("invalid token") from exc
    if payload.get("typ") != expected_type:
        raise InvalidToken(f"not an {expected_type} token")
    try:
        return TokenClaims(
            user_id=uuid.UUID(payload["sub"]),
            token_id=uuid.UUID(payload["jti"]),
            token_type=payload["typ"],
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
            family_id=uuid.UUID(payload["fam"]) if payload.get("fam") else None,
            session_id=uuid.UUID(payload["sid"]) if payload.get("sid") else None,
        )
    except (ValueError, TypeError) as exc:
        raise InvalidToken("invalid token") from exc


def decode_access_token(token: str | None) -> TokenClaims:
    return decode_token(token, ACCESS)
