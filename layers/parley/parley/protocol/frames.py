"""The WebSocket wire protocol (DESIGN §5): what clients send and what the server pushes.

Client frames are ``{"action", "requestId", "data"}``; each action's `data` is
validated into one of the models below. Server frames are
``{"type", "data"}``; acks are ``{"type": "ack", "requestId", "status", ...}``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictStr
from pydantic.alias_generators import to_camel

from parley.protocol.errors import ErrorCode


class ActionData(BaseModel):
    """Base of every action's data: camelCase on the wire, nothing unexpected."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


def storable_text(value: str) -> str:
    """Text PostgreSQL can store: no NUL, and valid Unicode (JSON may carry a
    lone surrogate such as "\\ud800", which has no UTF-8 form)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from error
    return value


# A string that is stored: refused with bad_request rather than by the database.
StoredText = Annotated[StrictStr, AfterValidator(storable_text)]


# The subprotocol a browser offers next to its token (`Sec-WebSocket-Protocol: parley, <token>`).
SUBPROTOCOL = "parley"
REQUEST_ID_MAX_CHARS = 128


class ClientFrame(BaseModel):
    """The envelope of every client frame; `data` is validated per action."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    action: StrictStr = Field(max_length=64)
    request_id: StrictStr | None = Field(
        default=None, alias="requestId", max_length=REQUEST_ID_MAX_CHARS
    )
    data: dict[str, Any] = Field(default_factory=dict)


# --- actions -----------------------------------------------------------------


class NoData(ActionData):
    """Actions that take nothing (ping, users:list, $default)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class SendMessage(ActionData):
    chat_id: uuid.UUID
    # The upper bound is the `message_max_chars` setting, checked by the domain
    # so that the limit is configurable; this one only stops absurd frames early.
    # Empty only with attachments (checked by the domain too).
    body: StoredText = Field(default="", max_length=1_000_000)
    client_message_id: StoredText | None = Field(default=None, min_length=1, max_length=64)
    reply_to_id: uuid.UUID | None = None
    # Ids from POST /chats/{chatId}/attachments, in the order shown; the domain
    # checks the count against `max_attachments_per_message`.
    attachments: list[uuid.UUID] = Field(default_factory=list, max_length=100)


class MessageRef(ActionData):
    """An action on one message (pin, unpin, delete, delivered); `chatId` is optional."""

    message_id: uuid.UUID
    chat_id: uuid.UUID | None = None


class ReadUpTo(ActionData):
    chat_id: uuid.UUID
    message_id: uuid.UUID


class EditMessage(ActionData):
    message_id: uuid.UUID
    chat_id: uuid.UUID | None = None
    body: StoredText = Field(min_length=1, max_length=1_000_000)


class ForwardMessage(ActionData):
    message_id: uuid.UUID
    to_chat_id: uuid.UUID
    client_message_id: StoredText | None = Field(default=None, min_length=1, max_length=64)


class ChatRef(ActionData):
    chat_id: uuid.UUID


class Typing(ActionData):
    chat_id: uuid.UUID
    is_typing: StrictBool = True


class Authenticate(ActionData):
    """`auth`: a fresh access token for this connection's user."""

    token: StrictStr = Field(min_length=1, max_length=4096)


# --- server frames -----------------------------------------------------------


def frame(frame_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": frame_type, "data": data}


def message_frame(view: dict[str, Any]) -> dict[str, Any]:
    return frame("message", view)


def status_frame(
    message_id: uuid.UUID, chat_id: uuid.UUID, status: str, *, user_id: uuid.UUID | None = None
) -> dict[str, Any]:
    """Per recipient when `user_id` is given, otherwise the aggregate."""
    data: dict[str, Any] = {"messageId": str(message_id), "chatId": str(chat_id)}
    if user_id is not None:
        data["userId"] = str(user_id)
        data["status"] = status
    else:
        data["status"] = status
        data["aggregate"] = True
    return frame("message:status", data)


def chat_member_frame(
    chat_id: uuid.UUID, user_id: uuid.UUID, event: str, by: uuid.UUID
) -> dict[str, Any]:
    return frame(
        "chat:member",
        {"chatId": str(chat_id), "userId": str(user_id), "event": event, "by": str(by)},
    )


def typing_frame(chat_id: uuid.UUID, user_id: uuid.UUID, is_typing: bool) -> dict[str, Any]:
    return frame("typing", {"chatId": str(chat_id), "userId": str(user_id), "isTyping": is_typing})


def users_update_frame(user: dict[str, Any]) -> dict[str, Any]:
    return frame("users:update", user)


def session_ended_frame(reason: str, message: str) -> dict[str, Any]:
    """The last frame of a connection whose sign-in ended; the close follows."""
    return frame("session:ended", {"reason": reason, "message": message})


def ok_ack(request_id: str | None, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": "ack", "requestId": request_id, "status": "ok", **payload}


def error_ack(
    request_id: str | None,
    code: ErrorCode,
    message: str,
    *,
    retry_after: int | None = None,
    field: str | None = None,
) -> dict[str, Any]:
    ack: dict[str, Any] = {
        "type": "ack",
        "requestId": request_id,
        "status": "error",
        "code": code.value,
        "message": message,
    }
    if retry_after is not None:
        ack["retryAfter"] = retry_after
    if field is not None:
        ack["field"] = field
    return ack
