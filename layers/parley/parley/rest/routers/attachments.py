"""Uploads: a presigned S3 POST for a file a member is about to send."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from parley.chat import attachments
from parley.rest.deps import CurrentUser, SessionDep
from parley.rest.errors import error_responses
from parley.rest.schemas import AttachmentUploadOut, CreateAttachmentIn

router = APIRouter(prefix="/chats", tags=["attachments"])

ChatId = Annotated[uuid.UUID, Path(alias="chatId")]


@router.post(
    "/{chatId}/attachments",
    status_code=status.HTTP_201_CREATED,
    response_model=AttachmentUploadOut,
    summary="Get a presigned S3 POST for a file to attach",
    description=(
        "POST the file to `upload.url` as `multipart/form-data`: every field of "
        "`upload.fields` as it is, then the file as `file`. The policy pins the "
        "key, the content type and the exact size. Then send a `message` frame "
        'with `"attachments": [attachmentId]`. An upload no message links is '
        "deleted after `ATTACHMENT_UNLINKED_TTL_SECONDS`."
    ),
    responses=error_responses(401, 404, 413, 422, 503),
)
def create_attachment(
    chat_id: ChatId, body: CreateAttachmentIn, session: SessionDep, user: CurrentUser
) -> dict[str, Any]:
    return attachments.issue_upload(
        session,
        chat_id,
        user.id,
        filename=body.filename,
        content_type=body.content_type,
        size=body.size,
    )
