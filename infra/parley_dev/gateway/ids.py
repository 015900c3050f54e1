"""Identifiers shaped like API Gateway's.

Connection, request and message ids are 11 random bytes in base64: 16
characters ending in `=`, sometimes with `/` or `+` (`L0SM9cOFvHcCIhw=`), so
clients must URL-encode them in @connections paths exactly as on AWS.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from datetime import UTC, datetime


def aws_id() -> str:
    return base64.b64encode(secrets.token_bytes(11)).decode("ascii")


def api_id(seed: str) -> str:
    """A stable 10-character API id, like `a1b2c3d4e5`."""
    return hashlib.sha256(seed.encode()).hexdigest()[:10]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def clf_time(epoch_ms: int) -> str:
    """`09/Feb/2024:18:11:43 +0000`, as in `requestContext.requestTime`."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def iso_time(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
