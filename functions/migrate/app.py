"""Alembic upgrade on every deploy, as a CloudFormation custom resource or invoked directly."""

from parley.db.migrate import upgrade
from parley.observability import logger


@logger.inject_lambda_context
def handler(event, context):
    upgrade()
    logger.info("database migrated to head")
    return {"status": "migrated"}
