"""Registration, sign-in, token refresh and sign-out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from parley.accounts import service as accounts
from parley.auth import refresh
from parley.db.models import User
from parley.protocol.errors import RateLimited, Unauthorized
from parley.rest.deps import ClientIp, CurrentUser, SessionDep, SettingsDep
from parley.rest.errors import error_responses
from parley.rest.schemas import AuthOut, LoginIn, LogoutIn, RefreshIn, RegisterIn, TokensOut
from parley.stores import ratelimit

router = APIRouter(prefix="/auth", tags=["auth"])


def limit_attempts(settings: SettingsDep, *, ip: str, username: str) -> None:
    """Count one attempt against the caller's address and against the username.

    Both buckets are counted (a refused attempt counts nowhere), so guessing
    one account's password from many addresses is as slow as from one.
    """
    window = settings.rate_limit_auth_window_seconds
    refusals = [
        decision.retry_after
        for decision in (
            ratelimit.hit(f"auth:ip:{ip}", settings.rate_limit_auth, window),
            ratelimit.hit(f"auth:user:{username.lower()}", settings.rate_limit_auth, window),
        )
        if not decision.allowed
    ]
    if refusals:
        raise RateLimited("too many attempts; try again later", retry_after=max(refusals))


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
def register(
    body: RegisterIn, session: SessionDep, settings: SettingsDep, ip: ClientIp
) -> dict[str, Any]:
    limit_attempts(settings, ip=ip, username=body.username)
    user = accounts.register(session, body.username, body.password, body.display_name)
    return _signed_in(session, user)


@router.post(
    "/login",
    response_model=AuthOut,
    summary="Sign in with username and password",
    responses=error_responses(401, 413, 422, 429),
)
def login(body: LoginIn, session: SessionDep, settings: SettingsDep, ip: ClientIp) -> dict:
    limit_attempts(settings, ip=ip, username=body.username)
    user = accounts.authenticate(session, body.username, body.password, source_ip=ip)
    return _signed_in(session, user)


@router.post(
    "/refresh",
    response_model=TokensOut,
    summary="Trade a refresh token for a new pair",
    description=(
        "A refresh token works once. Presenting a spent one answers 401 and "
        "revokes every token of that sign-in (its family), the newest included."
    ),
    responses=error_responses(401, 413, 422),
)
def refresh_tokens(body: RefreshIn, session: SessionDep) -> dict[str, Any]:
    user_id, pair = refresh.rotate(session, body.refresh_token)
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
        "With `refreshToken` in the body: revokes that token's family (this "
        "sign-in only). Without a body: revokes every refresh token the caller "
        "holds (signs out everywhere). Access tokens already issued stay valid "
        "until they expire (15 minutes)."
    ),
    responses=error_responses(401, 413, 422),
)
def logout(session: SessionDep, user: CurrentUser, body: LogoutIn | None = None) -> Response:
    if body is not None and body.refresh_token:
        refresh.revoke_family_of(session, user.id, body.refresh_token)
    else:
        refresh.revoke_all(session, user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
