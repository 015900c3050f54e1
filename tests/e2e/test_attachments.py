"""Attachments end to end: a presigned POST to the embedded S3 over HTTP, then a
message that links the upload, through the dev gateway and real sockets."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.chatters import Chatters
from tests.support.images import png

EVENTS = Path(__file__).resolve().parent.parent / "events"


def _bearer(user_id: uuid.UUID) -> dict[str, str]:
    from parley.auth.tokens import issue_token

    return {"Authorization": f"Bearer {issue_token(user_id)[0]}"}


def _ask_upload(
    api: httpx.Client, user_id: uuid.UUID, chat_id: uuid.UUID, **body: Any
) -> httpx.Response:
    return api.post(f"/chats/{chat_id}/attachments", json=body, headers=_bearer(user_id))


def _upload(
    api: httpx.Client,
    user_id: uuid.UUID,
    chat_id: uuid.UUID,
    content: bytes,
    *,
    filename: str = "red.png",
    content_type: str = "image/png",
    declared_size: int | None = None,
) -> str:
    """Ask for an upload and POST the file to S3 as a browser does; the attachment id."""
    size = len(content) if declared_size is None else declared_size
    issued = _ask_upload(
        api, user_id, chat_id, filename=filename, contentType=content_type, size=size
    )
    assert issued.status_code == 201, issued.text
    upload = issued.json()["upload"]
    stored = httpx.post(
        upload["url"],
        data=upload["fields"],
        files={"file": (filename, content, content_type)},
        timeout=10,
    )
    assert stored.status_code == 204, stored.text
    return issued.json()["attachmentId"]


def _send(peer, chat_id: uuid.UUID, attachments: list[str], body: str = "") -> dict[str, Any]:
    return peer.request(
        "message", {"chatId": str(chat_id), "body": body, "attachments": attachments}
    )


def _refused(ack: dict[str, Any]) -> str:
    assert ack["status"] == "error", ack
    assert ack["code"] == "bad_request", ack
    assert ack["field"] == "attachments", ack
    return ack["message"]


# --- the whole path ------------------------------------------------------------


def test_a_presigned_upload_is_linked_to_a_message_and_the_other_member_can_download_it(
    api: httpx.Client, chatters: Chatters
) -> None:
    image = png(64, 48)
    alice, bob = chatters.open(chatters.alice), chatters.open(chatters.bob)
    attachment_id = _upload(api, chatters.alice, chatters.group, image)

    ack = _send(alice, chatters.group, [attachment_id])

    assert ack["status"] == "ok", ack
    (shown,) = ack["message"]["attachments"]
    assert {key: value for key, value in shown.items() if key != "url"} == {
        "id": attachment_id,
        "filename": "red.png",
        "contentType": "image/png",
        "size": len(image),
        "width": 64,
        "height": 48,
    }
    assert ack["message"]["body"] == ""
    live = bob.wait_for("message", lambda d: d["id"] == ack["message"]["id"])
    (received,) = live["attachments"]
    download = httpx.get(received["url"], timeout=10)
    assert download.status_code == 200
    assert download.content == image
    assert download.headers["content-type"] == "image/png"


def test_history_shows_the_attachments_with_fresh_urls(
    api: httpx.Client, chatters: Chatters
) -> None:
    alice = chatters.open(chatters.alice)
    attachment_id = _upload(
        api,
        chatters.alice,
        chatters.group,
        b"%PDF-1.4 minimal",
        filename="plan.pdf",
        content_type="application/pdf",
    )
    sent = _send(alice, chatters.group, [attachment_id], body="the plan")["message"]

    page = api.get(f"/chats/{chatters.group}/messages", headers=_bearer(chatters.bob)).json()

    (message,) = page["messages"]
    assert message["id"] == sent["id"] and message["body"] == "the plan"
    (attachment,) = message["attachments"]
    assert attachment["filename"] == "plan.pdf"
    assert attachment["width"] is None and attachment["height"] is None
    download = httpx.get(attachment["url"], timeout=10)
    assert download.content == b"%PDF-1.4 minimal"
    assert "plan.pdf" in download.headers["content-disposition"]


def test_the_upload_policy_pins_the_key_the_type_the_exact_length_and_the_pending_tag(
    api: httpx.Client, chatters: Chatters
) -> None:
    from parley.storage import PENDING_TAGGING

    issued = _ask_upload(
        api, chatters.alice, chatters.group, filename="a.png", contentType="image/png", size=1234
    ).json()

    fields = issued["upload"]["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert {"key": fields["key"]} in conditions
    assert fields["key"] == f"chats/{chatters.group}/{issued['attachmentId']}"
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1234, 1234] in conditions
    assert {"tagging": PENDING_TAGGING} in conditions
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert expires - datetime.now(UTC) <= timedelta(minutes=16)


# --- refusals when an upload is asked for --------------------------------------------


def test_a_file_over_the_size_limit_is_refused_with_too_large(
    api: httpx.Client, chatters: Chatters
) -> None:
    from parley.config import get_settings

    limit = get_settings().attachment_max_bytes

    refused = _ask_upload(
        api,
        chatters.alice,
        chatters.group,
        filename="big.bin",
        contentType="image/png",
        size=limit + 1,
    )

    assert refused.status_code == 413
    assert refused.json()["code"] == "too_large" and refused.json()["field"] == "size"


@pytest.mark.parametrize("content_type", ["application/x-msdownload", "text/html", "nonsense"])
def test_a_type_that_is_not_accepted_is_refused_with_its_reason(
    api: httpx.Client, chatters: Chatters, content_type: str
) -> None:
    refused = _ask_upload(
        api, chatters.alice, chatters.group, filename="x", contentType=content_type, size=10
    )

    assert refused.status_code == 422
    assert refused.json()["code"] == "bad_request"
    assert refused.json()["field"] == "contentType"


def test_someone_outside_the_chat_cannot_ask_for_an_upload(
    api: httpx.Client, chatters: Chatters
) -> None:
    # Alice is not in the lobby; it answers as a chat that does not exist.
    refused = _ask_upload(
        api, chatters.alice, chatters.lobby, filename="a.png", contentType="image/png", size=10
    )
    unknown = _ask_upload(
        api, chatters.alice, uuid.uuid4(), filename="a.png", contentType="image/png", size=10
    )

    assert refused.status_code == unknown.status_code == 404
    assert refused.json()["message"] == unknown.json()["message"]


def test_an_upload_needs_a_bearer_token(api: httpx.Client, chatters: Chatters) -> None:
    refused = api.post(
        f"/chats/{chatters.group}/attachments",
        json={"filename": "a.png", "contentType": "image/png", "size": 10},
    )

    assert refused.status_code == 401


# --- refusals when a message names attachments -----------------------------------------


def test_an_id_that_was_never_issued_is_refused(chatters: Chatters) -> None:
    alice = chatters.open(chatters.alice)

    message = _refused(_send(alice, chatters.group, [str(uuid.uuid4())]))

    assert "not an upload of yours" in message


def test_someone_elses_upload_is_refused(api: httpx.Client, chatters: Chatters) -> None:
    bob = chatters.open(chatters.bob)
    alices = _upload(api, chatters.alice, chatters.group, png(4, 4))

    message = _refused(_send(bob, chatters.group, [alices]))

    assert "not an upload of yours" in message


def test_an_upload_for_another_chat_is_refused(api: httpx.Client, chatters: Chatters) -> None:
    bob = chatters.open(chatters.bob)
    for_the_group = _upload(api, chatters.bob, chatters.group, png(4, 4))

    message = _refused(_send(bob, chatters.lobby, [for_the_group]))

    assert "not an upload of yours to this chat" in message


def test_an_upload_that_never_reached_s3_is_refused(api: httpx.Client, chatters: Chatters) -> None:
    alice = chatters.open(chatters.alice)
    issued = _ask_upload(
        api, chatters.alice, chatters.group, filename="a.png", contentType="image/png", size=10
    ).json()

    message = _refused(_send(alice, chatters.group, [issued["attachmentId"]]))

    assert "has not been uploaded" in message


def test_an_object_whose_size_differs_from_the_declared_one_is_refused(
    api: httpx.Client, chatters: Chatters
) -> None:
    # Real S3 refuses such a POST by the policy's content-length-range; the
    # embedded server stores it, so the check at send time is what stops it.
    alice = chatters.open(chatters.alice)
    image = png(8, 8)
    attachment_id = _upload(
        api, chatters.alice, chatters.group, image, declared_size=len(image) + 5
    )

    message = _refused(_send(alice, chatters.group, [attachment_id]))

    assert f"holds {len(image)} bytes" in message


def test_an_upload_already_in_a_message_cannot_be_sent_again(
    api: httpx.Client, chatters: Chatters
) -> None:
    alice = chatters.open(chatters.alice)
    attachment_id = _upload(api, chatters.alice, chatters.group, png(4, 4))
    assert _send(alice, chatters.group, [attachment_id])["status"] == "ok"

    message = _refused(_send(alice, chatters.group, [attachment_id]))

    assert "already in a message" in message


def test_a_message_with_neither_text_nor_attachments_is_refused(chatters: Chatters) -> None:
    alice = chatters.open(chatters.alice)

    ack = _send(alice, chatters.group, [])

    assert ack["status"] == "error" and ack["code"] == "bad_request" and ack["field"] == "body"


def test_a_retry_with_the_same_client_message_id_returns_the_message_with_its_attachments(
    api: httpx.Client, chatters: Chatters
) -> None:
    alice = chatters.open(chatters.alice)
    attachment_id = _upload(api, chatters.alice, chatters.group, png(4, 4))
    data = {"chatId": str(chatters.group), "attachments": [attachment_id], "clientMessageId": "f1"}

    first = alice.request("message", data)
    retry = alice.request("message", data)

    assert retry["status"] == "ok", retry
    assert retry["message"]["id"] == first["message"]["id"]
    assert [a["id"] for a in retry["message"]["attachments"]] == [attachment_id]


# --- forward, delete, events, expiry ---------------------------------------------------


def test_a_forward_keeps_the_attachments_and_a_delete_hides_them(
    api: httpx.Client, chatters: Chatters
) -> None:
    alice, bob = chatters.open(chatters.alice), chatters.open(chatters.bob)
    attachment_id = _upload(api, chatters.bob, chatters.group, png(10, 6))
    original = _send(bob, chatters.group, [attachment_id], body="look")["message"]

    forwarded = bob.request(
        "message:forward", {"messageId": original["id"], "toChatId": str(chatters.lobby)}
    )["message"]
    deleted = bob.request("message:delete", {"messageId": original["id"]})["message"]

    assert [a["id"] for a in forwarded["attachments"]] == [attachment_id]
    assert forwarded["attachments"][0]["width"] == 10
    assert deleted["attachments"] == []
    assert (
        alice.wait_for("message:deleted", lambda d: d["id"] == original["id"])["attachments"] == []
    )
    page = api.get(f"/chats/{chatters.group}/messages", headers=_bearer(chatters.alice)).json()
    assert page["messages"][0]["attachments"] == []
    # The forwarded copy still reads the file.
    lobby = api.get(f"/chats/{chatters.lobby}/messages", headers=_bearer(chatters.bob)).json()
    assert httpx.get(lobby["messages"][0]["attachments"][0]["url"], timeout=10).status_code == 200


def test_message_created_carries_the_attachment_metadata_but_no_url(
    api: httpx.Client, chatters: Chatters
) -> None:
    from sqlalchemy import select

    from parley.db.models import OutboxEvent
    from parley.db.session import session_scope

    alice = chatters.open(chatters.alice)
    image = png(5, 7)
    attachment_id = _upload(api, chatters.alice, chatters.group, image)
    sent = _send(alice, chatters.group, [attachment_id])["message"]

    with session_scope() as session:
        payloads = session.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.topic == "message.created")
        ).all()
    (event,) = [json.loads(p) if isinstance(p, str) else p for p in payloads]

    assert event["data"]["id"] == sent["id"]
    assert event["data"]["attachments"] == [
        {
            "id": attachment_id,
            "filename": "red.png",
            "contentType": "image/png",
            "size": len(image),
            "width": 5,
            "height": 7,
        }
    ]


def test_uploads_no_message_linked_in_time_are_deleted_with_their_objects(
    api: httpx.Client, chatters: Chatters
) -> None:
    from sqlalchemy import update

    from parley import storage
    from parley.db.models import Attachment
    from parley.db.session import session_scope
    from parley_dev.cli import lambda_context, load_function

    alice = chatters.open(chatters.alice)
    kept = _upload(api, chatters.alice, chatters.group, png(3, 3))
    _send(alice, chatters.group, [kept])
    stale = _upload(api, chatters.alice, chatters.group, png(2, 2))
    fresh = _upload(api, chatters.alice, chatters.group, png(2, 3))
    a_day_ago = datetime.now(UTC) - timedelta(days=1, minutes=1)
    with session_scope() as session:
        session.execute(
            update(Attachment)
            .where(Attachment.id.in_([uuid.UUID(kept), uuid.UUID(stale)]))
            .values(created_at=a_day_ago)
        )

    scheduled = json.loads((EVENTS / "eventbridge_scheduled.json").read_text())
    cleanup = load_function("attachments_cleanup")

    assert cleanup(scheduled, lambda_context("attachments_cleanup")) == {"deleted": 1}

    with session_scope() as session:
        rows = {str(row.id): row.key for row in session.query(Attachment)}
    assert set(rows) == {kept, fresh}
    assert storage.describe(f"chats/{chatters.group}/{stale}") is None
    assert storage.describe(rows[kept]) is not None
    message = _refused(_send(alice, chatters.group, [stale]))
    assert "not an upload of yours" in message
