"""Chats, members, history and pins. A chat the caller is not in is a 404."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from parley.chat import chats, history
from parley.protocol.errors import BadRequest
from parley.rest.deps import CurrentUser, SessionDep, UnitOfWorkDep
from parley.rest.errors import error_responses
from parley.rest.schemas import (
    AddMembersIn,
    ChatOut,
    ChatsOut,
    CreateChatIn,
    HistoryOut,
    PinsOut,
)

router = APIRouter(prefix="/chats", tags=["chats"])

ChatId = Annotated[uuid.UUID, Path(alias="chatId")]


@router.get(
    "",
    response_model=ChatsOut,
    summary="The caller's chats, most recent activity first",
    responses=error_responses(401),
)
def list_chats(session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    return {"chats": chats.list_chats(session, user.id)}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ChatOut,
    summary="Open a direct chat or create a group",
    description=(
        "Direct: `memberIds` holds the one other user; opening the same pair "
        "again answers 200 with the existing chat. Group: `title` required, "
        "2-256 members counting the creator, who becomes its admin."
    ),
    responses={
        200: {"model": ChatOut, "description": "The direct chat with that user already existed"},
        **error_responses(401, 413, 422),
    },
)
def create_chat(
    body: CreateChatIn,
    session: SessionDep,
    user: CurrentUser,
    response: Response,
    work: UnitOfWorkDep,
) -> dict[str, Any]:
    if body.type == "direct":
        if len(body.member_ids) != 1:
            raise BadRequest("a direct chat needs exactly one other member", field="memberIds")
        if body.is_public:
            raise BadRequest("only groups can be public", field="isPublic")
        chat, joined = chats.create_direct(session, user.id, body.member_ids[0])
        if not joined:
            response.status_code = status.HTTP_200_OK
    else:
        if body.title is None:
            raise BadRequest("a group needs a title", field="title")
        chat, joined = chats.create_group(
            session,
            user.id,
            title=body.title,
            member_ids=body.member_ids,
            is_public=body.is_public,
        )
    work.record(*joined)
    return chats.get_chat(session, chat.id, user.id)


@router.get(
    "/{chatId}",
    response_model=ChatOut,
    summary="One chat with its members",
    responses=error_responses(401, 404, 422),
)
def get_chat(session: SessionDep, user: CurrentUser, chat_id: ChatId) -> dict[str, Any]:
    return chats.get_chat(session, chat_id, user.id)


@router.post(
    "/{chatId}/members",
    response_model=ChatOut,
    summary="Add members to a group (admins)",
    responses=error_responses(401, 403, 404, 409, 413, 422),
)
def add_members(
    body: AddMembersIn,
    session: SessionDep,
    user: CurrentUser,
    chat_id: ChatId,
    work: UnitOfWorkDep,
) -> dict[str, Any]:
    work.record(*chats.add_members(session, chat_id, user.id, body.user_ids))
    return chats.get_chat(session, chat_id, user.id)


@router.delete(
    "/{chatId}/members/{userId}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a member from a group (admins), or leave it (anyone)",
    responses=error_responses(401, 403, 404, 422),
)
def remove_member(
    session: SessionDep,
    user: CurrentUser,
    chat_id: ChatId,
    member_id: Annotated[uuid.UUID, Path(alias="userId")],
    work: UnitOfWorkDep,
) -> Response:
    work.record(chats.remove_member(session, chat_id, user.id, member_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{chatId}/messages",
    response_model=HistoryOut,
    summary="History, newest first",
    responses=error_responses(401, 404, 422),
)
def list_messages(
    session: SessionDep,
    user: CurrentUser,
    chat_id: ChatId,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="Only messages with a lower seq")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=history.HISTORY_PAGE_MAX)] = history.HISTORY_PAGE_DEFAULT,
) -> dict[str, Any]:
    page = history.history_page(session, chat_id, user.id, before=before, limit=limit)
    return {"messages": page.messages, "nextBefore": page.next_before}


@router.get(
    "/{chatId}/pins",
    response_model=PinsOut,
    summary="Pinned messages, most recently pinned first",
    responses=error_responses(401, 404, 422),
)
def list_pins(session: SessionDep, user: CurrentUser, chat_id: ChatId) -> dict[str, Any]:
    return {"messages": history.pinned_messages(session, chat_id, user.id)}
