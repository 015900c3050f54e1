"""Logger, metrics and (when tracing is on) the tracer: one instance each, imported everywhere.

`observed` is the one place a Lambda handler gets its observability: the
Lambda context and a correlation id in every log line, metrics flushed at
the end of each invocation, and an X-Ray segment when tracing is on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "parley")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Parley")

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)

LambdaHandler = Callable[[dict, Any], Any]


def tracing_enabled() -> bool:
    """As Powertools decides: on in Lambda unless POWERTOOLS_TRACE_DISABLED says otherwise."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").lower() in {"1", "true"}
    return not disabled and bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


@lru_cache(maxsize=1)
def get_tracer() -> Any:
    """The tracer, created on first use: the X-Ray SDK costs a cold start ~200 ms to import."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def observed(handler: LambdaHandler, correlation_id_path: str) -> LambdaHandler:
    """Logger with the Lambda context and correlation id, Metrics, and Tracer when tracing is on."""
    if tracing_enabled():
        handler = get_tracer().capture_lambda_handler(capture_response=False)(handler)
    handler = logger.inject_lambda_context(
        correlation_id_path=correlation_id_path, log_event=False, clear_state=True
    )(handler)
    return metrics.log_metrics(handler)


class RedactedDatabaseError(Exception):
    """Stands in a log line for a database error whose text may quote values."""


class _HideDatabaseValues(logging.Filter):
    """PostgreSQL's error text may quote what it refused ("invalid input syntax:
    "<value>"", "DETAIL: Failing row contains (...)"): a message body would end
    up in the logs. A logged database error keeps its class, SQLSTATE and
    statement (parameters are never rendered: the engine hides them), and its
    stack, but not that text."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and type(error).__module__.startswith("sqlalchemy"):
            orig = getattr(error, "orig", None)
            sqlstate = getattr(orig, "sqlstate", None) or "-"
            statement = " ".join(str(getattr(error, "statement", "") or "").split())[:300]
            summary = f"{type(error).__name__} (SQLSTATE {sqlstate}) in: {statement}"
            assert record.exc_info is not None
            record.exc_info = (
                RedactedDatabaseError,
                RedactedDatabaseError(summary),
                record.exc_info[2],
            )
        return True


logger.addFilter(_HideDatabaseValues())
