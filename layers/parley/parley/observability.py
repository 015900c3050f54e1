"""Logger, tracer and metrics: one instance each, imported everywhere."""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "parley")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Parley")

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)


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
