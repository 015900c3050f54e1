"""The @connections signature check itself: what botocore signs passes, anything else does not."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from parley_dev.gateway.sigv4 import (
    BAD_SIGNATURE,
    MISSING_TOKEN,
    SignatureRejected,
    WireRequest,
    sign,
    verify,
)

URL = "http://127.0.0.1:8000/ws/%40connections/L0SM9cOFvHcCIhw%3D"
RAW_PATH = "/ws/%40connections/L0SM9cOFvHcCIhw%3D"
KEYS = {"local": "local"}


def wire(headers: dict[str, str], body: bytes = b"{}", method: str = "POST") -> WireRequest:
    sent = {"host": "127.0.0.1:8000", **{k.lower(): v for k, v in headers.items()}}
    return WireRequest(method, RAW_PATH, "", list(sent.items()), hashlib.sha256(body).hexdigest())


def signed_headers(region: str = "us-east-1", body: bytes = b"{}") -> dict[str, str]:
    return sign("POST", URL, body, access_key="local", secret_key="local", region=region)


def test_what_botocore_signed_with_the_local_keys_passes() -> None:
    assert verify(wire(signed_headers()), KEYS, "us-east-1") == "local"


def test_no_authorization_is_a_missing_token() -> None:
    with pytest.raises(SignatureRejected, match=MISSING_TOKEN):
        verify(wire({}), KEYS, "us-east-1")


def test_a_signature_scoped_to_another_region_is_refused() -> None:
    with pytest.raises(SignatureRejected, match="region"):
        verify(wire(signed_headers(region="eu-west-1")), KEYS, "us-east-1")


def test_a_signature_older_than_five_minutes_is_refused() -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6)

    with pytest.raises(SignatureRejected, match="Signature expired"):
        verify(wire(signed_headers()), KEYS, "us-east-1", now=later)


def test_another_method_with_the_same_signature_is_refused() -> None:
    with pytest.raises(SignatureRejected, match="signature we calculated"):
        verify(wire(signed_headers(), method="DELETE"), KEYS, "us-east-1")


def test_a_signed_header_changed_on_the_way_is_refused() -> None:
    headers = signed_headers()
    signed_at = dt.datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    headers["X-Amz-Date"] = (signed_at + dt.timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")

    with pytest.raises(SignatureRejected):
        verify(wire(headers), KEYS, "us-east-1")


def test_a_claimed_payload_hash_that_is_not_the_bodys_is_refused() -> None:
    headers = {**signed_headers(), "X-Amz-Content-SHA256": hashlib.sha256(b"other").hexdigest()}

    with pytest.raises(SignatureRejected, match=BAD_SIGNATURE[:20]):
        verify(wire(headers), KEYS, "us-east-1")
