"""The JWT signing secret: from JWT_SECRET locally, by name from AWS otherwise."""

from __future__ import annotations

from parley.config import get_settings

# A fixed development secret keeps tokens valid across `make run` restarts;
# any deployment sets JWT_SECRET or JWT_SECRET_NAME.
DEVELOPMENT_SECRET = "parley-local-development-secret-change-me"


def get_jwt_secret() -> str:
    settings = get_settings()
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    if settings.jwt_secret_name:
        return _secret_from_aws(settings.jwt_secret_name)
    return DEVELOPMENT_SECRET


def _secret_from_aws(name: str) -> str:
    # Cached by Powertools (5 minutes by default): one AWS call per warm container.
    from aws_lambda_powertools.utilities import parameters

    if name.startswith("/"):
        return parameters.get_parameter(name, decrypt=True)
    return parameters.get_secret(name)
