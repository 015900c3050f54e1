"""What routes depend on, as typed aliases: a unit of work, the caller, settings, live pushes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from parley.accounts import sessions
from parley.auth.tokens import InvalidToken, TokenClaims, decode_access_token
from parley.chat.chats import MemberChange, announce
from parley.chat.presence import live_pusher
from parley.config import Settings, get_settings
from parley.db import session_scope
from parley.db.models import User
from parley.observability import logger
from parley.protocol.errors import Unauthorized
from parley.push import Pusher


def get_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


# scope="function": the transaction commits (or rolls back) as soon as the
# route returns, before the response is sent, so a failed commit is a 500
# and never a success the database does not hold.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

SettingsDep = Annotated[Settings, Depends(get_settings)]

bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="An access token from /auth/register, /auth/login or /auth/refresh",
)


def get_token_claims(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> TokenClaims:
    if credentials is None:
        raise Unauthorized("missing bearer token")
    try:
        return decode_access_token(credentials.credentials)
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from exc


TokenClaimsDep = Annotated[TokenClaims, Depends(get_token_claims)]


def get_current_user(session: SessionDep, claims: TokenClaimsDep) -> User:
    # The user must exist and the sign-in must not have ended (logout, reuse).
    return sessions.signed_in_user(session, claims)


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_client_ip(request: Request) -> str:
    # Behind API Gateway (through Mangum) this is requestContext.http.sourceIp.
    return request.client.host if request.client else "unknown"


ClientIp = Annotated[str, Depends(get_client_ip)]


class LivePushes:
    """Frames for the WebSocket connections of the users a request concerns.

    They go out as background tasks, which run once the response is sent, so
    after the request's transaction has committed (SessionDep closes when
    the route returns): clients never hear of a change that rolled back.
    Without `websocket_connections_url` nothing is pushed; clients catch up
    through the REST API.
    """

    def __init__(self, pusher: Pusher | None, background: BackgroundTasks) -> None:
        self.pusher = pusher
        self.background = background

    def member_changes(self, changes: list[MemberChange]) -> None:
        if changes:
            self._after_commit(lambda pusher: announce(pusher, changes))

    def sessions_ended(self, ended: sessions.SessionsEnded, *, at_once: bool = False) -> None:
        """Close the ended sessions' sockets; `at_once` when the request is failing
        (its background tasks will not run) but the revocation is committed."""
        if self.pusher is None:
            return
        if at_once:
            _push_safely(lambda pusher: sessions.end_sockets(pusher, ended), self.pusher)
        else:
            self._after_commit(lambda pusher: sessions.end_sockets(pusher, ended))

    def _after_commit(self, push: Callable[[Pusher], None]) -> None:
        if self.pusher is not None:
            self.background.add_task(_push_safely, push, self.pusher)


def _push_safely(push: Callable[[Pusher], None], pusher: Pusher) -> None:
    # The change is committed and answered: a failed push must not turn it into an error.
    try:
        push(pusher)
    except Exception:
        logger.exception("push after commit failed")


def get_live_pushes(settings: SettingsDep, background: BackgroundTasks) -> LivePushes:
    url = settings.websocket_connections_url
    return LivePushes(live_pusher(url) if url else None, background)


LivePushesDep = Annotated[LivePushes, Depends(get_live_pushes)]
