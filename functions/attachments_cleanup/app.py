"""Scheduled: delete uploads that no message linked in time (parley.chat.attachments)."""

from typing import Any

from parley.chat.attachments import expire_unlinked
from parley.observability import logger


@logger.inject_lambda_context
def handler(_event: dict[str, Any], _context: object) -> dict[str, int]:
    deleted = expire_unlinked()
    logger.info("unlinked uploads deleted", extra={"deleted": deleted})
    return {"deleted": deleted}
