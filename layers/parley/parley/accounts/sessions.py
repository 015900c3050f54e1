"""Sign-ins (sessions) and the live sockets that belong to them.

A session is one sign-in: the family of refresh tokens it produced, whose
id every access token of that sign-in carries as `sid`, and every
connection opened (or renewed) with such a token remembers. Ending a
session (logout, a reused refresh token, a password change) revokes its
tokens, and its live sockets are told why (`session:ended`) and closed
through @connections, as on AWS (DeleteConnection: close code 1000).

An access token outlives nothing of its session: a socket whose token
expired is refused every action but `auth` (fresh token, same user, live
session), and a revoked session's access tokens are refused everywhere.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from parley.accounts import throttle
from parley.accounts.service import PASSWORD_MAX, PASSWORD_MIN
from parley.auth import passwords, refresh
from parley.auth.tokens import ExpiredToken, InvalidToken, TokenClaims, decode_access_token
from parley.chat.context import ActionContext
from parley.db.models import User
from parley.observability import logger
from parley.protocol.errors import BadRequest, Forbidden, TokenExpired, Unauthorized
from parley.protocol.frames import Authenticate, session_ended_frame
from parley.push import Pusher
from parley.stores import connections

# Why a socket was closed: the `reason` of its last frame, `session:ended`.
LOGGED_OUT = "logged_out"
SESSION_REVOKED = "session_revoked"
PASSWORD_CHANGED = "password_changed"

_MESSAGES = {
    LOGGED_OUT: "signed out",
    SESSION_REVOKED: "this sign-in was revoked (its refresh token was used twice); sign in again",
    PASSWORD_CHANGED: "the password changed; sign in again",
}


@dataclass(frozen=True)
class SessionsEnded:
    """Which of a user's sockets must close: those of `sessions` (None: all) but `keep`'s."""

    user_id: uuid.UUID
    reason: str
    sessions: frozenset[str] | None = None
    keep: str | None = None

    def covers(self, session_id: str | None) -> bool:
        if self.keep is not None and session_id == self.keep:
            return False
        return self.sessions is None or session_id in self.sessions


def signed_in_user(session: Session, claims: TokenClaims) -> User:
    """The user of a valid access token, while the user exists and the sign-in is live."""
    user = session.get(User, claims.user_id)
    if user is None:
        raise Unauthorized("unknown user")
    if claims.session_id is not None and refresh.session_revoked(session, claims.session_id):
        raise Unauthorized("this sign-in has ended; sign in again")
    return user


def end_sockets(pusher: Pusher, ended: SessionsEnded) -> list[str]:
    """Tell, then close, every live socket of the ended sessions; the ids closed."""
    targets = [
        connection_id
        for connection_id, session_id in connections.sessions_of(ended.user_id).items()
        if ended.covers(session_id)
    ]
    if not targets:
        return []
    pusher.fan_out(targets, session_ended_frame(ended.reason, _MESSAGES[ended.reason]))
    closed = [connection_id for connection_id in targets if pusher.close(connection_id)]
    logger.info(
        "sockets of ended sessions closed",
        extra={"userId": str(ended.user_id), "reason": ended.reason, "closed": len(closed)},
    )
    return closed


def end_sockets_at_once(pusher: Pusher | None, ended: SessionsEnded) -> None:
    """For a request that fails after committing a revocation: its unit notifies nothing."""
    if pusher is None:
        return
    try:
        end_sockets(pusher, ended)
    except Exception:  # the revocation stands; the sockets are refused on their next frame
        logger.exception("closing the sockets of ended sessions failed")


# --- REST: logout and password change --------------------------------------


def logout(session: Session, user: User, refresh_token: str | None) -> SessionsEnded:
    """One sign-in (the refresh token's family), or every one without a token."""
    if refresh_token:
        family = refresh.revoke_family_of(session, user.id, refresh_token)
        return SessionsEnded(user.id, LOGGED_OUT, sessions=frozenset({str(family)}))
    refresh.revoke_all(session, user.id)
    return SessionsEnded(user.id, LOGGED_OUT)


def revoked_by_reuse(reused: refresh.RefreshTokenReused) -> SessionsEnded:
    return SessionsEnded(
        reused.user_id, SESSION_REVOKED, sessions=frozenset({str(reused.family_id)})
    )


def change_password(
    session: Session,
    user: User,
    claims: TokenClaims,
    *,
    current_password: str,
    new_password: str,
    source_ip: str,
) -> SessionsEnded:
    """Set a new password; every other sign-in of the user ends, the caller's stays."""
    throttle.limit_sign_in(ip=source_ip, username=user.username)
    if not passwords.verify_password(user.password_hash, current_password):
        raise Forbidden("the current password is wrong", field="currentPassword")
    if not PASSWORD_MIN <= len(new_password) <= PASSWORD_MAX:
        raise BadRequest("password must be 8-128 characters", field="newPassword")
    if new_password == current_password:
        raise BadRequest("the new password is the current one", field="newPassword")
    user.password_hash = passwords.hash_password(new_password)
    keep = claims.session_id
    refresh.revoke_others(session, user.id, keep)
    return SessionsEnded(user.id, PASSWORD_CHANGED, keep=str(keep) if keep else None)


# --- WebSocket: `auth` ---------------------------------------------------------


def reauthenticate(ctx: ActionContext, data: Authenticate) -> dict[str, str]:
    """A fresh access token for this connection: same user, live sign-in."""
    try:
        claims = decode_access_token(data.token)
    except ExpiredToken as error:
        raise TokenExpired("this token has expired too; refresh it first") from error
    except InvalidToken as error:
        raise Unauthorized(f"invalid token: {error}") from error
    if claims.user_id != ctx.user_id:
        raise Forbidden("the token belongs to another user than this connection's")
    signed_in_user(ctx.session, claims)
    session_id = str(claims.session_id) if claims.session_id else None
    if not connections.renew(ctx.connection_id, session_id, claims.expires_at.timestamp()):
        raise Unauthorized("connection not registered; reconnect")
    return {"expiresAt": claims.expires_at.astimezone(UTC).isoformat()}


def token_expired(connection: connections.Connection, now: float | None = None) -> bool:
    expires_at = connection.token_expires_at
    return expires_at is not None and expires_at <= (now or datetime.now(UTC).timestamp())
