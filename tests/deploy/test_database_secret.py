"""DATABASE_SECRET_ARN: the database URL read from Secrets Manager (moto) at cold start."""

from __future__ import annotations

import json

import boto3
import pytest
from sqlalchemy import make_url, text


@pytest.fixture
def secret(aws, settings_from_env):
    """Store a secret value and point DATABASE_SECRET_ARN at it."""
    client = boto3.client("secretsmanager")

    def store(value: str) -> str:
        arn = client.create_secret(Name="parley/database", SecretString=value)["ARN"]
        settings_from_env.setenv("DATABASE_SECRET_ARN", arn)
        return arn

    return store


def test_without_a_secret_the_database_url_is_used_as_it_is(settings_from_env):
    from parley.db.session import database_url

    settings_from_env.setenv("DATABASE_URL", "postgresql+psycopg://app@db.internal:5432/parley")

    assert database_url() == "postgresql+psycopg://app@db.internal:5432/parley"


def test_a_secret_holding_a_url_wins_over_database_url(secret, settings_from_env):
    from parley.db.session import database_url

    settings_from_env.setenv("DATABASE_URL", "postgresql+psycopg://ignored@nowhere/parley")
    secret("postgresql+psycopg://app:s3cret@proxy.internal:5432/parley")

    assert database_url() == "postgresql+psycopg://app:s3cret@proxy.internal:5432/parley"


def test_rds_credentials_become_a_url_through_the_proxy_host(secret, settings_from_env):
    from parley.db.session import database_url

    secret(
        json.dumps(
            {
                "engine": "postgres",
                "username": "parley",
                "password": "p@ss/word",
                "host": "parley.cluster-abc.eu-west-1.rds.amazonaws.com",
                "port": 5432,
                "dbname": "parley",
            }
        )
    )
    settings_from_env.setenv("DATABASE_HOST", "parley-proxy.proxy-abc.eu-west-1.rds.amazonaws.com")

    url = make_url(database_url())

    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password) == ("parley", "p@ss/word")
    assert url.host == "parley-proxy.proxy-abc.eu-west-1.rds.amazonaws.com"
    assert (url.port, url.database) == (5432, "parley")


def test_a_secret_with_neither_url_nor_credentials_names_what_is_missing(secret):
    from parley.db.session import database_url

    secret(json.dumps({"username": "parley", "password": "hunter2"}))

    with pytest.raises(ValueError, match="missing: host") as raised:
        database_url()
    assert "hunter2" not in str(raised.value)


def test_the_secret_is_read_once_and_cached(secret):
    from parley.db.session import database_url

    arn = secret(json.dumps({"url": "postgresql+psycopg://app@db.internal/parley"}))
    first = database_url()
    boto3.client("secretsmanager").delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)

    assert database_url() == first == "postgresql+psycopg://app@db.internal/parley"


def test_the_engine_connects_with_the_url_from_the_secret(stack, secret):
    from parley.db import get_engine

    secret(json.dumps({"url": stack["DATABASE_URL"]}))

    with get_engine().connect() as connection:
        assert connection.execute(text("select 1")).scalar_one() == 1
