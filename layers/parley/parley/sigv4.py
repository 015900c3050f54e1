"""Signature Version 4 for the pushes to the @connections API.

A push is one small POST, and a big group's message is a thousand of them:
botocore's signer, which parses the request again, derives the signing key
again and builds its canonical request through generic steps on every call,
cost more CPU than the HTTP exchange itself. This signs the one shape of
request a push is (a POST with a body, no query, signing `host`,
`x-amz-date` and, with temporary credentials, `x-amz-security-token`) and
derives the key once a day per secret. The tests check it against botocore's
signer, and the dev gateway verifies every push with botocore.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
_TIMESTAMP = "%Y%m%dT%H%M%SZ"


def signed_post_headers(
    *,
    host: str,
    path: str,
    body: bytes,
    region: str,
    service: str,
    access_key: str,
    secret_key: str,
    token: str | None = None,
    now: datetime | None = None,
) -> dict[str, str]:
    """The headers that sign `POST {path}` on `host` (`path` as sent, percent-encoded)."""
    amz_date = (now or datetime.now(UTC)).strftime(_TIMESTAMP)
    day = amz_date[:8]
    headers = {"host": host, "x-amz-date": amz_date}
    if token:
        headers["x-amz-security-token"] = token
    signed_headers = ";".join(headers)  # already in order: host, x-amz-date, x-amz-security-token
    canonical_request = "\n".join(
        [
            "POST",
            # The path is encoded once more, as for every service but S3.
            quote(path, safe="/~"),
            "",
            *(f"{name}:{value}" for name, value in headers.items()),
            "",
            signed_headers,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _signing_key(secret_key, day, region, service)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "X-Amz-Date": amz_date,
        **({"X-Amz-Security-Token": token} if token else {}),
        "Authorization": (
            f"{ALGORITHM} Credential={access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        ),
    }


@lru_cache(maxsize=8)
def _signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
