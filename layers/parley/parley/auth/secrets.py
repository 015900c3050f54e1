"""The JWT signing secret: from JWT_SECRET locally, by name from AWS otherwise."""

from __future__ import annotations

from parley.config import get_settings

# A fixed development secret keeps tokens valid across `make run` restarts;
# any deployment sets JWT_SECRET or JWT_SECRET_NAME.
DEVELOPMENT_SECRET = "parley-local-development-secret-change-me"

# Every token issued or checked needs the secret: keep it for five minutes per
# warm container, so a rotated secret is picked up without a redeploy.
SECRET_CACHE_SECONDS = 300


def get_jwt_secret() -> str:
    settings = get_settings()
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    if settings.jwt_secret_name:
        return _secret_from_aws(settings.jwt_secret_name)
    return DEVELOPMENT_SECRET


def _secret_from_aws(name: str) -> str:
    # Powertools caches the value: one AWS call per container per cache period.
    # An SSM parameter name is a path ("/parley/jwt-secret"); anything else
    # names a Secrets Manager secret.
    from aws_lambda_powertools.utilities import parameters

    if name.startswith("/"):
        return parameters.get_parameter(name, decrypt=True, max_age=SECRET_CACHE_SECONDS)
    return parameters.get_secret(name, max_age=SECRET_CACHE_SECONDS)
