"""The JWT secret on AWS: read by name from Secrets Manager or SSM (moto), cached."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from parley.auth.secrets import get_jwt_secret
from parley.auth.tokens import decode_access_token, issue_token
from parley.config import get_settings


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("JWT_SECRET", raising=False)
    with mock_aws():
        # Powertools keeps one provider (and its boto3 client) per kind: start clean
        # so the providers are built inside the mock.
        parameters.base.DEFAULT_PROVIDERS.clear()
        parameters.clear_caches()
        get_settings.cache_clear()
        yield
    parameters.base.DEFAULT_PROVIDERS.clear()
    parameters.clear_caches()
    get_settings.cache_clear()


def test_the_secret_comes_from_secrets_manager_by_name(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("secretsmanager").create_secret(
        Name="parley/jwt", SecretString="from-secrets-manager-0123456789abcdef"
    )
    monkeypatch.setenv("JWT_SECRET_NAME", "parley/jwt")
    get_settings.cache_clear()

    assert get_jwt_secret() == "from-secrets-manager-0123456789abcdef"


def test_the_secret_comes_from_an_ssm_secure_string_by_path(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("ssm").put_parameter(
        Name="/parley/jwt-secret", Value="from-ssm-0123456789abcdef0123", Type="SecureString"
    )
    monkeypatch.setenv("JWT_SECRET_NAME", "/parley/jwt-secret")
    get_settings.cache_clear()

    assert get_jwt_secret() == "from-ssm-0123456789abcdef0123"


def test_the_secret_is_cached_rather_than_fetched_for_every_token(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = boto3.client("secretsmanager")
    client.create_secret(Name="parley/jwt", SecretString="first-secret-0123456789abcdef012")
    monkeypatch.setenv("JWT_SECRET_NAME", "parley/jwt")
    get_settings.cache_clear()
    token, claims = issue_token(uuid.uuid4())

    client.put_secret_value(SecretId="parley/jwt", SecretString="rotated-secret-0123456789abcdef")

    assert get_jwt_secret() == "first-secret-0123456789abcdef012"
    assert decode_access_token(token).user_id == claims.user_id


def test_jwt_secret_in_the_environment_wins_over_a_name(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWT_SECRET", "local-secret-0123456789abcdef0123")
    monkeypatch.setenv("JWT_SECRET_NAME", "parley/does-not-exist")
    get_settings.cache_clear()

    assert get_jwt_secret() == "local-secret-0123456789abcdef0123"
