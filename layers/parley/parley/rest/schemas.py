"""Request and response bodies: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from parley.accounts.service import (
    DISPLAY_NAME_MAX,
    PASSWORD_MAX,
    PASSWORD_MIN,
    USERNAME_MAX,
    USERNAME_MIN,
)
from parley.chat.chats import MEMBER_IDS_PER_REQUEST, TITLE_MAX
from parley.protocol.frames import storable_text


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# Text stored or searched in PostgreSQL carries no control characters (NUL
# cannot be stored at all).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"

Username = Annotated[
    str,
    StringConstraints(
        min_length=USERNAME_MIN, max_length=USERNAME_MAX, pattern=r"^[A-Za-z0-9_.-]+$"
    ),
    Field(description="3-32 of a-z 0-9 _ . - (case-insensitive, stored lower-case)"),
]
# Valid Unicode only (a lone surrogate has no UTF-8 form to store or hash).
Storable = AfterValidator(storable_text)
Password = Annotated[
    str, StringConstraints(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX), Storable
]
DisplayName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=DISPLAY_NAME_MAX, pattern=PRINTABLE
    ),
    Storable,
]
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX, pattern=PRINTABLE),
    Storable,
]
SearchText = Annotated[str, StringConstraints(max_length=64, pattern=PRINTABLE), Storable]
Token = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
IdText = Annotated[str, Field(json_schema_extra={"format": "uuid"})]
TimeText = Annotated[str, Field(json_schema_extra={"format": "date-time"})]

# Requests


class RegisterIn(ApiModel):
    username: Username
    password: Password
    display_name: DisplayName | None = None


class LoginIn(ApiModel):
    username: Username
    password: Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX), Storable]


class RefreshIn(ApiModel):
    refresh_token: Token


class LogoutIn(ApiModel):
    refresh_token: Token | None = Field(
        default=None,
        description="Revoke this token's family (one sign-in); omit to revoke every family",
    )


class PasswordChangeIn(ApiModel):
    current_password: Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX)]
    new_password: Password


class ProfilePatch(ApiModel):
    display_name: DisplayName | None = Field(
        default=None, description="null shows the username instead"
    )


UserIds = Annotated[list[uuid.UUID], Field(min_length=1, max_length=MEMBER_IDS_PER_REQUEST)]


class CreateChatIn(ApiModel):
    type: Literal["direct", "group"]
    member_ids: UserIds = Field(
        description="Direct: the one other user. Group: members besides the creator."
    )
    title: Title | None = Field(default=None, description="Required for a group")
    is_public: bool = Field(default=False, description="Groups only")


class AddMembersIn(ApiModel):
    user_ids: UserIds


# Responses


class UserOut(ApiModel):
    id: IdText
    username: str
    display_name: str
    online: bool
    last_seen_at: TimeText | None
    created_at: TimeText


class MemberOut(UserOut):
    role: Literal["admin", "member"]


class MessageOut(ApiModel):
    id: IdText
    chat_id: IdText
    seq: int
    sender_id: IdText
    body: str = Field(description="Empty once the message is deleted")
    client_message_id: str | None
    reply_to_id: IdText | None
    created_at: TimeText
    status: Literal["SENT", "DELIVERED", "READ"] = Field(
        description="The least advanced status over the recipients"
    )
    is_pinned: bool
    pinned_at: TimeText | None
    pinned_by: IdText | None
    is_forwarded: bool
    forwarded_from_id: IdText | None
    original_sender_id: IdText | None
    edited_at: TimeText | None
    deleted_at: TimeText | None


class ChatOut(ApiModel):
    id: IdText
    type: Literal["direct", "group"]
    title: str | None
    is_public: bool
    created_by: IdText | None
    created_at: TimeText
    last_seq: int
    last_message_at: TimeText | None
    members: list[MemberOut]
    unread_count: int = Field(description="The caller's messages not read yet")
    last_message: MessageOut | None


class AuthOut(ApiModel):
    user: UserOut
    access_token: str
    refresh_token: str


class TokensOut(ApiModel):
    access_token: str
    refresh_token: str
    user: UserOut


class UsersOut(ApiModel):
    users: list[UserOut]


class ChatsOut(ApiModel):
    chats: list[ChatOut]


class HistoryOut(ApiModel):
    messages: list[MessageOut] = Field(description="Newest first")
    next_before: int | None = Field(
        description="`before` for the previous page; null at the chat's start"
    )


class PinsOut(ApiModel):
    messages: list[MessageOut]
