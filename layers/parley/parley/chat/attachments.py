"""Attachments: issuing uploads, linking them to messages, expiring the unlinked.

A member asks for an upload (`issue_upload`): a row is written and a
presigned POST returned; the file goes from the browser to S3. A `message`
naming attachment ids links them (`link_uploads`) only after S3 confirms each
object with the declared size and type, and only for the caller's own
uploads to that chat that no message links yet. A forward links the same
attachments to its new message; a deleted message shows none. Uploads that
no message links are deleted after `attachment_unlinked_ttl_seconds`
(`delete_unlinked`, run on a schedule).
"""

from __future__ import annotations

import posixpath
import unicodedata
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, insert, select
from sqlalchemy.orm import Session

from parley import storage
from parley.chat.imagesize import image_size
from parley.chat.membership import require_member
from parley.config import get_settings
from parley.db.models import Attachment, MessageAttachment
from parley.db.session import session_scope
from parley.observability import logger
from parley.protocol.errors import BadRequest, TooLarge

FIELD = "attachments"


# --- what an upload may be ---------------------------------------------------


def content_type_allowed(content_type: str) -> bool:
    content_type = content_type.lower()
    for allowed in get_settings().attachment_content_types:
        allowed = allowed.lower()
        if allowed == content_type:
            return True
        if allowed.endswith("/*") and content_type.startswith(allowed[:-1]):
            return True
    return False


def clean_filename(filename: str) -> str:
    """The name's last path segment, without control characters; BadRequest when empty."""
    name = posixpath.basename(filename.replace("\\", "/")).strip()
    name = "".join(char for char in name if unicodedata.category(char)[0] != "C")
    limit = get_settings().attachment_filename_max_chars
    if not name or name in {".", ".."}:
        raise BadRequest("filename is empty", field="filename")
    if len(name) > limit:
        raise BadRequest(f"filename is longer than {limit} characters", field="filename")
    return name


def _is_image(content_type: str) -> bool:
    return content_type.lower().startswith("image/")


# --- issuing an upload -------------------------------------------------------


def issue_upload(
    session: Session,
    chat_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    filename: str,
    content_type: str,
    size: int,
) -> dict[str, Any]:
    """`{"attachmentId", "upload": {"url", "fields"}}` for a member of the chat."""
    require_member(session, chat_id, user_id)
    settings = get_settings()
    name = clean_filename(filename)
    if size > settings.attachment_max_bytes:
        raise TooLarge(f"a file may be at most {settings.attachment_max_bytes} bytes", field="size")
    if size < 1:
        raise BadRequest("size must be at least 1 byte", field="size")
    if not content_type_allowed(content_type):
        raise BadRequest(f"files of type {content_type!r} are not accepted", field="contentType")
    attachment = Attachment(
        id=uuid.uuid4(),
        chat_id=chat_id,
        uploader_id=user_id,
        filename=name,
        content_type=content_type,
        size=size,
    )
    attachment.key = f"chats/{chat_id}/{attachment.id}"
    upload = storage.presigned_post(attachment.key, content_type, size)
    session.add(attachment)
    session.flush()
    return {"attachmentId": str(attachment.id), "upload": upload}


# --- linking to messages -----------------------------------------------------


def link_uploads(
    session: Session, chat_id: uuid.UUID, user_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> list[MessageAttachment]:
    """The links of a new message to the caller's uploads, checked in S3; BadRequest otherwise.

    Every failure answers alike for ids that do not exist, belong to someone
    else or to another chat, so upload ids cannot be probed.
    """
    if not ids:
        return []
    limit = get_settings().max_attachments_per_message
    if len(ids) > limit:
        raise BadRequest(f"a message may carry at most {limit} attachments", field=FIELD)
    if len(set(ids)) != len(ids):
        raise BadRequest("an attachment is named twice", field=FIELD)
    # Locked: two sends racing for one upload link it once.
    rows = {
        row.id: row
        for row in session.scalars(
            select(Attachment).where(Attachment.id.in_(ids)).with_for_update()
        )
    }
    attachments = []
    for attachment_id in ids:
        attachment = rows.get(attachment_id)
        if attachment is None or attachment.uploader_id != user_id or attachment.chat_id != chat_id:
            raise BadRequest(
                f"attachment {attachment_id} is not an upload of yours to this chat", field=FIELD
            )
        if attachment.linked_at is not None:
            raise BadRequest(f"attachment {attachment_id} is already in a message", field=FIELD)
        attachments.append(attachment)
    for attachment in attachments:
        _confirm_upload(attachment)
    now = datetime.now(UTC)
    for attachment in attachments:
        storage.mark_linked(attachment.key)
        attachment.linked_at = now
    return [
        MessageAttachment(attachment=attachment, position=position)
        for position, attachment in enumerate(attachments)
    ]


def _confirm_upload(attachment: Attachment) -> None:
    """S3 holds the object as declared; images get their width and height."""
    probe = get_settings().attachment_image_probe_bytes if _is_image(attachment.content_type) else 0
    stored = storage.describe(attachment.key, head_bytes=probe)
    if stored is None:
        raise BadRequest(f"attachment {attachment.id} has not been uploaded", field=FIELD)
    if stored.size != attachment.size:
        raise BadRequest(
            f"attachment {attachment.id} holds {stored.size} bytes, not the "
            f"{attachment.size} declared",
            field=FIELD,
        )
    if stored.content_type.lower() != attachment.content_type.lower():
        raise BadRequest(
            f"attachment {attachment.id} is {stored.content_type!r}, not the "
            f"{attachment.content_type!r} declared",
            field=FIELD,
        )
    if probe:
        dimensions = image_size(stored.head)
        if dimensions is not None:
            attachment.width, attachment.height = dimensions


def write_links(
    session: Session, message_id: uuid.UUID, links: Sequence[MessageAttachment]
) -> None:
    """The rows of a new message's links (the message itself is written without the ORM)."""
    if links:
        session.execute(
            insert(MessageAttachment),
            [
                {
                    "message_id": message_id,
                    "attachment_id": link.attachment.id,
                    "position": link.position,
                }
                for link in links
            ],
        )


def links_for_forward(session: Session, source_view: dict[str, Any]) -> list[MessageAttachment]:
    """The forwarded message's links: the same attachments as the source's view names."""
    ids = [uuid.UUID(item["id"]) for item in source_view.get("attachments") or []]
    if not ids:
        return []
    rows = {
        row.id: row for row in session.scalars(select(Attachment).where(Attachment.id.in_(ids)))
    }
    return [
        MessageAttachment(attachment=rows[attachment_id], position=position)
        for position, attachment_id in enumerate(ids)
        if attachment_id in rows
    ]


# --- views -------------------------------------------------------------------


def attachment_metadata(attachment: Attachment) -> dict[str, Any]:
    """An attachment without its URL (what events carry); width and height are
    null unless the file is an image whose size could be read."""
    return {
        "id": str(attachment.id),
        "filename": attachment.filename,
        "contentType": attachment.content_type,
        "size": attachment.size,
        "width": attachment.width,
        "height": attachment.height,
    }


def attachment_view(attachment: Attachment) -> dict[str, Any]:
    """An attachment as clients see it: with a short-lived presigned GET `url`."""
    return {
        **attachment_metadata(attachment),
        "url": storage.presigned_get(
            attachment.key,
            attachment.filename,
            attachment.content_type,
            inline=_is_image(attachment.content_type),
        ),
    }


def with_urls(session: Session, view: dict[str, Any]) -> dict[str, Any]:
    """A message view rebuilt from an event (attachments without URLs), with fresh URLs."""
    items = view.get("attachments") or []
    if not items:
        return view
    ids = [uuid.UUID(item["id"]) for item in items]
    rows = {
        row.id: row for row in session.scalars(select(Attachment).where(Attachment.id.in_(ids)))
    }
    return {
        **view,
        "attachments": [attachment_view(rows[i]) for i in ids if i in rows],
    }


# --- expiry ------------------------------------------------------------------


def delete_unlinked(session: Session, *, limit: int = 1000) -> int:
    """Delete uploads no message links, older than the TTL: their objects, then their rows."""
    cutoff = datetime.now(UTC) - timedelta(seconds=get_settings().attachment_unlinked_ttl_seconds)
    linked = exists().where(MessageAttachment.attachment_id == Attachment.id)
    rows = list(
        session.execute(
            select(Attachment.id, Attachment.key)
            .where(Attachment.created_at < cutoff, ~linked)
            .order_by(Attachment.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not rows:
        return 0
    storage.delete([key for _id, key in rows])
    session.execute(delete(Attachment).where(Attachment.id.in_([row_id for row_id, _key in rows])))
    return len(rows)


def expire_unlinked(*, batch_size: int = 1000, max_batches: int = 50) -> int:
    """The scheduled cleanup: batches of `delete_unlinked`, each its own transaction."""
    deleted = 0
    for _ in range(max_batches):
        with session_scope() as session:
            count = delete_unlinked(session, limit=batch_size)
        deleted += count
        if count < batch_size:
            break
    return deleted


@logger.inject_lambda_context
def cleanup_handler(_event: dict[str, Any], _context: object) -> dict[str, int]:
    """The scheduled `attachments_cleanup` function."""
    deleted = expire_unlinked()
    logger.info("unlinked uploads deleted", extra={"deleted": deleted})
    return {"deleted": deleted}
