"""Profiles with presence."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from parley.accounts import service as accounts
from parley.accounts import sessions
from parley.rest.deps import ClientIp, CurrentUser, SessionDep, TokenClaimsDep, UnitOfWorkDep
from parley.rest.errors import error_responses
from parley.rest.schemas import PasswordChangeIn, ProfilePatch, SearchText, UserOut, UsersOut

router = APIRouter(prefix="/users", tags=["users"])


@router.get(
    "/me", response_model=UserOut, summary="The caller's profile", responses=error_responses(401)
)
def me(user: CurrentUser) -> dict[str, Any]:
    return accounts.profile(user)


@router.patch(
    "/me",
    response_model=UserOut,
    summary="Change the caller's display name",
    responses=error_responses(401, 413, 422),
)
def update_me(body: ProfilePatch, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    if "display_name" in body.model_fields_set:
        accounts.update_profile(session, user, display_name=body.display_name)
    return accounts.profile(user)


@router.patch(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Change the caller's password",
    description=(
        "Needs the current password (403 when wrong; attempts are throttled as "
        "sign-ins are). Every other sign-in of the caller ends: their refresh "
        "and access tokens are refused, their WebSocket connections get "
        "`session:ended` (`password_changed`) and are closed. The caller's own "
        "sign-in goes on."
    ),
    responses=error_responses(401, 403, 413, 422, 429),
)
def change_password(
    body: PasswordChangeIn,
    session: SessionDep,
    user: CurrentUser,
    claims: TokenClaimsDep,
    work: UnitOfWorkDep,
    ip: ClientIp,
) -> Response:
    ended = sessions.change_password(
        session,
        user,
        claims,
        current_password=body.current_password,
        new_password=body.new_password,
        source_ip=ip,
    )
    work.record(ended)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "",
    response_model=UsersOut,
    summary="Find users, with presence",
    responses=error_responses(401, 422),
)
def list_users(
    session: SessionDep,
    _user: CurrentUser,
    query: Annotated[
        SearchText | None, Query(description="Part of a username or display name")
    ] = None,
    online: Annotated[
        bool | None, Query(description="true: online now only; false: offline only")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    users = accounts.search(session, query=query, online=online, limit=limit)
    return {"users": accounts.profiles(users)}


@router.get(
    "/{userId}",
    response_model=UserOut,
    summary="One user's profile",
    responses=error_responses(401, 404, 422),
)
def get_user(
    session: SessionDep, _user: CurrentUser, user_id: Annotated[uuid.UUID, Path(alias="userId")]
) -> dict[str, Any]:
    return accounts.profile(accounts.get_user(session, user_id))
