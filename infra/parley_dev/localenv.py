"""Environment that makes handler code run locally exactly as on AWS."""

from __future__ import annotations

import os
from collections.abc import MutableMapping

# Handlers build boto3 clients (the @connections API): they need a region and
# credentials, never real ones. The X-Ray daemon does not exist locally.
LOCAL_AWS_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Parley",
}


def apply_local_defaults(environ: MutableMapping[str, str] = os.environ) -> None:
    for name, value in LOCAL_AWS_ENV.items():
        environ.setdefault(name, value)
