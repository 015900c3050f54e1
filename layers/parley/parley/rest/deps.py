"""What routes depend on, as typed aliases: a unit of work, the caller, settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from parley.auth.tokens import InvalidToken, decode_access_token
from parley.config import Settings, get_settings
from parley.db import session_scope
from parley.db.models import User
from parley.protocol.errors import Unauthorized


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


def get_current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    if credentials is None:
        raise Unauthorized("missing bearer token")
    try:
        claims = decode_access_token(credentials.credentials)
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from exc
    user = session.get(User, claims.user_id)
    if user is None:
        raise Unauthorized("unknown user")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_client_ip(request: Request) -> str:
    # Behind API Gateway (through Mangum) this is requestContext.http.sourceIp.
    return request.client.host if request.client else "unknown"


ClientIp = Annotated[str, Depends(get_client_ip)]
