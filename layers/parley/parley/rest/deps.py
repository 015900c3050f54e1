"""What routes depend on, as typed aliases: a unit of work, the caller, settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from parley.accounts import sessions
from parley.auth.tokens import InvalidToken, TokenClaims, decode_access_token
from parley.config import Settings, get_settings
from parley.db.models import User
from parley.db.session import UnitOfWork, unit_of_work
from parley.notify import live_pusher, notify
from parley.protocol.errors import Unauthorized

SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_unit_of_work(settings: SettingsDep) -> Iterator[UnitOfWork]:
    """The request's unit of work, the same as a WebSocket action's.

    What a route records (`work.record(...)`) reaches the members' live
    connections through `websocket_connections_url` once the transaction has
    committed; unset, nothing is pushed and clients catch up through the API.
    """
    url = settings.websocket_connections_url
    # ambient=False: FastAPI may enter and leave this dependency on different threads.
    with unit_of_work(
        pusher=live_pusher(url) if url else None, notifier=notify, ambient=False
    ) as work:
        yield work


# scope="function": the transaction commits (or rolls back) as soon as the
# route returns, before the response is sent, so a failed commit is a 500
# and never a success the database does not hold.
UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work, scope="function")]


def get_session(work: UnitOfWorkDep) -> Session:
    return work.session


SessionDep = Annotated[Session, Depends(get_session)]

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
