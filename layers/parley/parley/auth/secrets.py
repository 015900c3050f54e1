"""The JWT signing secret: from JWT_SECRET locally, by name from AWS otherwise."""

from __future__ import annotations

from parley.config import get_settings


class MissingSecret(RuntimeError):
    """Neither JWT_SECRET nor JWT_SECRET_NAME is set: no token can be trusted."""


# Every token issued or checked needs the secret: keep it for five minutes per
# warm container, so a rotated secret is picked up without a redeploy.
SECRET_CACHE_SECONDS = 300


def get_jwt_secret() -> str:
    settings = get_settings()
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    if settings.jwt_secret_name:
        return _secret_from_aws(settings.jwt_secret_name)
    # No silent default: a deployment without a secret must fail loudly, not
    # sign tokens with a value anyone can read in this file.
    raise MissingSecret("set JWT_SECRET, or JWT_SECRET_NAME to a secret holding it")


def _secret_from_aws(name: str) -> str:
    # Powertools caches the value: one AWS call per container per cache period.
    # An SSM parameter name is a path ("/parley/jwt-secret"); anything else
    # names a Secrets Manager secret.
    from aws_lambda_powertools.utilities import parameters

    if name.startswith("/"):
        return parameters.get_parameter(name, decrypt=True, max_age=SECRET_CACHE_SECONDS)
    return parameters.get_secret(name, max_age=SECRET_CACHE_SECONDS)
