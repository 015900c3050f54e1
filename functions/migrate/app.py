"""Alembic upgrade on every deploy: a CloudFormation custom resource, or invoked directly.

As template.yaml's DatabaseMigration custom resource it migrates on Create and
Update and does nothing on Delete (the data outlives the stack). Whatever
happens it answers CloudFormation's ResponseURL: an unanswered custom resource
holds the deploy for an hour before it fails.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

from parley.observability import logger

PHYSICAL_RESOURCE_ID = "parley-database-schema"
# Answer FAILED this long before Lambda would stop the function mid-migration.
TIMEOUT_MARGIN_SECONDS = 10
# CloudFormation refuses response bodies above 4 KB.
MAX_REASON_CHARS = 1000


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "RequestType" not in event:
        return {"status": "migrated", "revision": migrate()}
    handle_custom_resource(event, context)
    return {"status": "answered"}


def migrate() -> str:
    # Alembic and SQLAlchemy load here, not at Init: a Delete needs neither.
    from parley.db.migrate import current_heads, upgrade
    from parley.db.session import database_url

    upgrade(database_url())
    revision = ",".join(current_heads())
    logger.info("database migrated", extra={"revision": revision})
    return revision


def handle_custom_resource(event: dict[str, Any], context: Any) -> None:
    reply = CloudFormationReply(event, context)
    deadline = context.get_remaining_time_in_millis() / 1000 - TIMEOUT_MARGIN_SECONDS
    watchdog = threading.Timer(max(deadline, 0), reply.failed, args=("migration timed out",))
    watchdog.daemon = True
    watchdog.start()
    try:
        if event["RequestType"] == "Delete":
            reply.succeeded({})
        else:
            reply.succeeded({"Revision": migrate()})
    except Exception as exc:
        # The deploy must hear about every failure: it rolls back on FAILED.
        logger.exception("migration failed")
        reply.failed(f"{type(exc).__name__}: {exc}")
    finally:
        watchdog.cancel()


class CloudFormationReply:
    """The one answer a custom resource owes CloudFormation: a PUT to the pre-signed ResponseURL."""

    def __init__(self, event: dict[str, Any], context: Any) -> None:
        self._event = event
        self._context = context
        self._lock = threading.Lock()
        self.sent = False

    def succeeded(self, data: dict[str, Any]) -> None:
        self._send("SUCCESS", f"See CloudWatch log stream {self._context.log_stream_name}", data)

    def failed(self, reason: str) -> None:
        self._send("FAILED", reason[:MAX_REASON_CHARS], {})

    def _send(self, status: str, reason: str, data: dict[str, Any]) -> None:
        with self._lock:
            if self.sent:
                return
            self.sent = True
        body = json.dumps(
            {
                "Status": status,
                "Reason": reason,
                "PhysicalResourceId": self._event.get("PhysicalResourceId", PHYSICAL_RESOURCE_ID),
                "StackId": self._event["StackId"],
                "RequestId": self._event["RequestId"],
                "LogicalResourceId": self._event["LogicalResourceId"],
                "NoEcho": False,
                "Data": data,
            }
        ).encode()
        # The URL is signed without a content type: sending one breaks the signature.
        request = urllib.request.Request(
            self._event["ResponseURL"],
            data=body,
            method="PUT",
            headers={"Content-Type": "", "Content-Length": str(len(body))},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            logger.info("answered CloudFormation", extra={"status": status, "http": response.code})
