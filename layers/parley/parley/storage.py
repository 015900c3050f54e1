"""Attachments' objects in S3: every call Parley makes to S3, and nothing else.

The endpoint is boto3's own resolution: `AWS_ENDPOINT_URL_S3` (or
`AWS_ENDPOINT_URL`) when set, which is how the embedded server of `make run`
or LocalStack is reached, and AWS's regional endpoint otherwise. The bucket
is the `attachments_bucket` setting (`ATTACHMENTS_BUCKET`).

Uploads never pass through a function: the REST API hands out a presigned
POST whose policy pins the key, the content type, the exact length and the
"pending" tag; the browser posts the file to S3. A message links the object
only after `describe` confirms it; linking drops the tag, so the bucket's
lifecycle rule expires only what no message references.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError

from parley.config import get_settings
from parley.protocol.errors import Unavailable

# The tag an upload carries until a message links it (the lifecycle rule's filter).
PENDING_TAG_KEY = "parley-state"
PENDING_TAG_VALUE = "pending"
PENDING_TAGGING = (
    "<Tagging><TagSet><Tag>"
    f"<Key>{PENDING_TAG_KEY}</Key><Value>{PENDING_TAG_VALUE}</Value>"
    "</Tag></TagSet></Tagging>"
)


class StorageNotConfigured(Unavailable):
    """No bucket is configured: attachments are off."""


@dataclass(frozen=True)
class StoredObject:
    """What S3 holds under a key: its size, its type, and its first bytes when asked."""

    size: int
    content_type: str
    head: bytes = b""


def custom_endpoint() -> str | None:
    """The S3 endpoint set in the environment (as boto3 reads it), if any."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


@lru_cache(maxsize=1)
def _client() -> Any:
    """One S3 client per process, created on first use (never at import)."""
    import boto3
    from botocore.config import Config

    # A custom endpoint (an IP and a port) cannot take the bucket as a host name.
    addressing = "path" if custom_endpoint() else "virtual"
    return boto3.client(
        "s3",
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": addressing},
            connect_timeout=2,
            read_timeout=5,
            retries={"max_attempts": 2, "mode": "standard"},
        ),
    )


def reset_client() -> None:
    _client.cache_clear()


def bucket() -> str:
    name = get_settings().attachments_bucket
    if not name:
        raise StorageNotConfigured("attachments are not configured (no ATTACHMENTS_BUCKET)")
    return name


def presigned_post(key: str, content_type: str, size: int) -> dict[str, Any]:
    """`{"url", "fields"}` for a browser form POST of exactly `size` bytes of `content_type`."""
    fields = {"Content-Type": content_type, "tagging": PENDING_TAGGING}
    conditions: list[Any] = [
        {"Content-Type": content_type},
        {"tagging": PENDING_TAGGING},
        ["content-length-range", size, size],
    ]
    try:
        return _client().generate_presigned_post(
            Bucket=bucket(),
            Key=key,
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=get_settings().attachment_upload_expires_seconds,
        )
    except BotoCoreError as exc:
        raise Unavailable("storage could not sign the upload") from exc


def presigned_get(key: str, filename: str, content_type: str, *, inline: bool) -> str:
    """A short-lived URL to read the object, named `filename` when saved."""
    disposition = "inline" if inline else "attachment"
    try:
        return _client().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket(),
                "Key": key,
                "ResponseContentType": content_type,
                "ResponseContentDisposition": (
                    f"{disposition}; filename*=UTF-8''{quote(filename, safe='')}"
                ),
            },
            ExpiresIn=get_settings().attachment_url_expires_seconds,
        )
    except BotoCoreError as exc:
        raise Unavailable("storage could not sign a download") from exc


def describe(key: str, *, head_bytes: int = 0) -> StoredObject | None:
    """The object's size and type (and its first `head_bytes`), None when absent."""
    try:
        if head_bytes > 0:
            answer = _client().get_object(
                Bucket=bucket(), Key=key, Range=f"bytes=0-{head_bytes - 1}"
            )
            head = answer["Body"].read()
            total = answer.get("ContentRange", "").rpartition("/")[2]
            size = int(total) if total.isdigit() else int(answer["ContentLength"])
            return StoredObject(size, answer.get("ContentType", ""), head)
        answer = _client().head_object(Bucket=bucket(), Key=key)
        return StoredObject(int(answer["ContentLength"]), answer.get("ContentType", ""))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in {"404", "NoSuchKey", "NotFound"} or status == 404:
            return None
        if code == "InvalidRange":  # an empty object has no byte 0
            return describe(key)
        raise Unavailable("storage did not answer") from exc
    except BotoCoreError as exc:
        raise Unavailable("storage did not answer") from exc


def mark_linked(key: str) -> None:
    """Drop the pending tag: the lifecycle rule no longer applies to the object."""
    try:
        _client().delete_object_tagging(Bucket=bucket(), Key=key)
    except (BotoCoreError, ClientError) as exc:
        raise Unavailable("storage did not answer") from exc


def delete(keys: list[str]) -> None:
    """Delete objects (absent ones are not an error), a thousand per request."""
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        try:
            _client().delete_objects(
                Bucket=bucket(),
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
        except (BotoCoreError, ClientError) as exc:
            raise Unavailable("storage did not answer") from exc


def ensure_bucket(name: str) -> bool:
    """Create the bucket when absent (local and LocalStack runs); True if created."""
    client = _client()
    try:
        client.head_bucket(Bucket=name)
        return False
    except ClientError:
        pass
    client.create_bucket(Bucket=name)
    client.put_bucket_cors(
        Bucket=name,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": ["GET", "POST", "HEAD"],
                    "AllowedOrigins": ["*"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3600,
                }
            ]
        },
    )
    return True
