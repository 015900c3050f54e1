"""Registration, sign-in, token refresh and sign-out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from parley.accounts import service as accounts
from parley.accounts import sessions, throttle
from parley.auth import refresh
from parley.db.models import User
from parley.protocol.errors import Unauthorized
from parley.rest.deps import ClientIp, CurrentUser, SessionDep, UnitOfWorkDep
from parley.rest.errors import error_responses
from parley.rest.schemas import AuthOut, LoginIn, LogoutIn, RefreshIn, RegisterIn, TokensOut

router = APIRouter(prefix="/auth", tags=["auth"])


def _signed_in(session: SessionDep, user: User) -> dict[str, Any]:
    pair = refresh.issue_pair(session, user.id)
    return {
        "user": accounts.profile(user),
        "accessToken": pair.access_token,
        "refreshToken": pair.refresh_token,
    }


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=AuthOut,
    summary="Create an account and sign in",
    responses=error_responses(409, 413, 422, 429),
)
def register(body: RegisterIn, session: SessionDep, ip: ClientIp) -> dict[str, Any]:
    throttle.limit_registration(ip=ip)
    user = accounts.register(session, body.username, body.password, body.display_name)
    return _signed_in(session, user)


@router.post(
    "/login",
    response_model=AuthOut,
    summary="Sign in with username and password",
    description=(
        "Attempts are throttled per (address, username), per username and per "
        "address (429 with Retry-After); the owner signing in from another "
        "address than a guesser's is not slowed by the guesser."
    ),
    responses=error_responses(401, 413, 422, 429),
)
def login(body: LoginIn, session: SessionDep, ip: ClientIp) -> dict:
    throttle.limit_sign_in(ip=ip, username=body.username)
    user = accounts.authenticate(session, body.username, body.password, source_ip=ip)
    return _signed_in(session, user)


@router.post(
    "/refresh",
    response_model=TokensOut,
    summary="Trade a refresh token for a new pair",
    description=(
        "A refresh token works once. Used again within a few seconds "
        "(REFRESH_TOKEN_REUSE_INTERVAL_SECONDS: two tabs refreshing at once) it "
        "answers the same new pair. Later, presenting a spent one answers 401, "
        "revokes every token of that sign-in (its family), the newest included, "
        "and closes that sign-in's WebSocket connections."
    ),
    responses=error_responses(401, 413, 422),
)
def refresh_tokens(body: RefreshIn, session: SessionDep, work: UnitOfWorkDep) -> dict[str, Any]:
    try:
        user_id, pair = refresh.rotate(session, body.refresh_token)
    except refresh.RefreshTokenReused as reused:
        # The request fails, so its unit notifies nothing; the revocation is committed.
        sessions.end_sockets_at_once(work.pusher, sessions.revoked_by_reuse(reused))
        raise
    user = session.get(User, user_id)
    if user is None:
        raise Unauthorized("unknown user")
    return {
        "accessToken": pair.access_token,
        "refreshToken": pair.refresh_token,
        "user": accounts.profile(user),
    }


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Revoke refresh tokens",
    description=(
        "With `refreshToken` in the body: ends that token's sign-in (its "
        "family) only. Without a body: ends every sign-in of the caller. The "
        "ended sign-ins' access tokens are refused from then on, and their "
        "WebSocket connections get a `session:ended` frame and are closed."
    ),
    responses=error_responses(401, 413, 422),
)
def logout(
    session: SessionDep, user: CurrentUser, work: UnitOfWorkDep, body: LogoutIn | None = None
) -> Response:
    ended = sessions.logout(session, user, body.refresh_token if body is not None else None)
    work.record(ended)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
