"""Environment that makes handler code run locally exactly as on AWS."""

from __future__ import annotations

import os
import secrets
from collections.abc import MutableMapping
from pathlib import Path

# The one region of everything local: the gateway's ARNs and pseudo parameters too.
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"

# Handlers build boto3 clients (the @connections API): they need a region and
# credentials, never real ones. The dev gateway applies the same.
LOCAL_REGION = {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}

LOCAL_AWS_ENV = {
    **LOCAL_REGION,
    **DUMMY_CREDENTIALS,
    # The X-Ray daemon does not exist locally.
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Parley",
}


def apply_local_defaults(environ: MutableMapping[str, str] = os.environ) -> None:
    for name, value in LOCAL_AWS_ENV.items():
        environ.setdefault(name, value)


def ensure_jwt_secret(data_dir: Path, environ: MutableMapping[str, str] = os.environ) -> None:
    """A local signing secret, made once and kept with the data.

    Kept in the data directory so tokens survive a restart of `make run`, and
    `parley-dev invoke` can check tokens the running stack issued.
    """
    if environ.get("JWT_SECRET"):
        return
    path = data_dir / "jwt-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    environ["JWT_SECRET"] = path.read_text().strip()
