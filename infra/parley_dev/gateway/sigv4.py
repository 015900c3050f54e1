"""SigV4 on the @connections API, checked with botocore's own signer.

API Gateway's management API only answers requests signed with Signature
Version 4 by credentials allowed to `execute-api:ManageConnections`. Locally
the allowed credentials are the ones the functions get (the developer's, or
the dummy ones of `parley_dev.localenv`); the gateway recomputes the
signature of each request with botocore, from what came over the wire, and
compares it with the one the client sent.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
# API Gateway refuses signatures more than five minutes away from its clock.
MAX_SKEW = dt.timedelta(minutes=5)
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

MISSING_TOKEN = "Missing Authentication Token"
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
UNKNOWN_KEY = "The security token included in the request is invalid."

_PARTS = re.compile(r"(\w+)=([^,\s]+)")


class SignatureRejected(Exception):
    """The request is not signed, or not by allowed credentials; the message is AWS's."""


@dataclass(frozen=True)
class WireRequest:
    """A request as it arrived: what a signature covers."""

    method: str
    raw_path: str  # as sent, percent-encoding kept
    query_string: str
    headers: list[tuple[str, str]]  # names lower-case
    payload_sha256: str

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key == name]
        return ",".join(values) if values else None


class _KnownPayload(SigV4Auth):
    """botocore's signer, with the payload's hash computed while it streamed in."""

    def __init__(self, credentials: Credentials, region: str, payload_sha256: str) -> None:
        super().__init__(credentials, SERVICE, region)
        self._payload_sha256 = payload_sha256

    def payload(self, request: AWSRequest) -> str:
        return self._payload_sha256


def verify(
    request: WireRequest,
    credentials: Mapping[str, str],
    region: str,
    now: dt.datetime | None = None,
) -> str:
    """The access key id that signed `request`; SignatureRejected otherwise."""
    authorization = request.header("authorization")
    if not authorization:
        raise SignatureRejected(MISSING_TOKEN)
    algorithm, _, rest = authorization.strip().partition(" ")
    parts = dict(_PARTS.findall(rest))
    if algorithm != ALGORITHM or not {"Credential", "SignedHeaders", "Signature"} <= set(parts):
        raise SignatureRejected(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            f"parameters ({ALGORITHM})."
        )
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise SignatureRejected("Credential is malformed.")
    access_key, date, scope_region, service, _ = scope
    secret = credentials.get(access_key)
    if secret is None:
        raise SignatureRejected(UNKNOWN_KEY)
    if scope_region != region:
        raise SignatureRejected(f"Credential should be scoped to a valid region, not '{region}'.")
    if service != SERVICE:
        raise SignatureRejected(f"Credential should be scoped to correct service: '{SERVICE}'.")
    timestamp = request.header("x-amz-date") or ""
    try:
        signed_at = dt.datetime.strptime(timestamp, _TIMESTAMP).replace(tzinfo=dt.UTC)
    except ValueError as error:
        raise SignatureRejected("Authorization header requires existence of X-Amz-Date.") from error
    if not timestamp.startswith(date):
        raise SignatureRejected("Date in Credential scope does not match X-Amz-Date.")
    now = now or dt.datetime.now(dt.UTC)
    if abs(now - signed_at) > MAX_SKEW:
        raise SignatureRejected(
            f"Signature expired: {timestamp} is now earlier than "
            f"{(now - MAX_SKEW).strftime(_TIMESTAMP)}."
        )
    claimed_payload = request.header("x-amz-content-sha256")
    if claimed_payload not in (None, UNSIGNED_PAYLOAD, request.payload_sha256):
        raise SignatureRejected(BAD_SIGNATURE)

    signed_names = parts["SignedHeaders"].lower().split(";")
    if "host" not in signed_names:
        raise SignatureRejected(BAD_SIGNATURE)
    headers = {name: request.header(name) or "" for name in signed_names}
    url = f"http://{headers['host']}{request.raw_path}"
    if request.query_string:
        url += f"?{request.query_string}"
    rebuilt = AWSRequest(method=request.method, url=url, headers=headers)
    rebuilt.context["timestamp"] = timestamp
    signer = _KnownPayload(Credentials(access_key, secret), region, request.payload_sha256)
    canonical = signer.canonical_request(rebuilt)
    expected = signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt)
    if not hmac.compare_digest(expected, parts["Signature"]):
        raise SignatureRejected(BAD_SIGNATURE)
    return access_key


def sign(
    method: str,
    url: str,
    body: bytes = b"",
    *,
    access_key: str,
    secret_key: str,
    region: str,
    headers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Headers that sign a request as boto3 would, for clients without boto3 (benchmarks)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(access_key, secret_key), SERVICE, region).add_auth(request)
    return dict(request.headers.items())


def credentials_the_functions_get() -> dict[str, str]:
    """Access key id -> secret: what botocore resolves in this process (the functions
    resolve the same), and always the local dummy keys that `parley_dev.localenv` gives.

    The dummy keys are public; what keeps a web page from using them is that
    a signed request is not a simple one: the browser's preflight finds no
    CORS on @connections.
    """
    from botocore.session import Session

    from parley_dev.localenv import DUMMY_CREDENTIALS

    allowed = {DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]: DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}
    resolved: Any = Session().get_credentials()
    if resolved is not None:
        frozen = resolved.get_frozen_credentials()
        allowed[frozen.access_key] = frozen.secret_key
    return allowed
