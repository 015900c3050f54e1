"""The pushes' SigV4 signature is the one botocore's signer computes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from parley.sigv4 import signed_post_headers

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 3, 18, 59, 7, tzinfo=UTC)


def botocore_headers(url: str, body: bytes, credentials: Credentials, now: datetime) -> dict:
    """What botocore's signer adds to the same request at the same time."""
    request = AWSRequest(method="POST", url=url, data=body)
    signer = SigV4Auth(credentials, "execute-api", "eu-west-1")
    request.context["timestamp"] = now.strftime("%Y%m%dT%H%M%SZ")
    request.headers["X-Amz-Date"] = request.context["timestamp"]
    if credentials.token:
        request.headers["X-Amz-Security-Token"] = credentials.token
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    scope = signer.credential_scope(request)
    signed = signer.signed_headers(signer.headers_to_sign(request))
    return {
        **{k: v for k, v in request.headers.items() if k.startswith("X-Amz")},
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        ),
    }


@pytest.mark.parametrize(
    ("url", "host", "path"),
    [
        (
            "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/@connections/"
            "L0SM9cOFvHcCIhw%3D",
            "abc123.execute-api.eu-west-1.amazonaws.com",
            "/prod/@connections/L0SM9cOFvHcCIhw%3D",
        ),
        (
            "http://127.0.0.1:8000/local/@connections/conn-1%2Bx%3D",
            "127.0.0.1:8000",
            "/local/@connections/conn-1%2Bx%3D",
        ),
    ],
)
@pytest.mark.parametrize("token", [None, "FwoGZXIvYXdzEJr//////////wEaDAn+token=="])
def test_a_push_is_signed_as_botocore_signs_it(url, host, path, token) -> None:
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    body = b'{"type":"message","data":{"body":"h\xc3\xa9llo"}}'

    ours = signed_post_headers(
        host=host,
        path=path,
        body=body,
        region="eu-west-1",
        service="execute-api",
        access_key=credentials.access_key,
        secret_key=credentials.secret_key,
        token=token,
        now=NOW,
    )

    assert ours == botocore_headers(url, body, credentials, NOW)


def test_the_signature_changes_with_the_day_and_the_body() -> None:
    def signature(now: datetime, body: bytes) -> str:
        return signed_post_headers(
            host="h",
            path="/p",
            body=body,
            region="eu-west-1",
            service="execute-api",
            access_key="a",
            secret_key="s",
            now=now,
        )["Authorization"]

    assert signature(NOW, b"x") != signature(NOW + timedelta(days=1), b"x")
    assert signature(NOW, b"x") != signature(NOW, b"y")
