"""The stack with --aws localstack: its secrets read from a real LocalStack, not from variables."""

from __future__ import annotations

import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from parley_dev.localstack import DATABASE_SECRET_NAME, client, ensure_secret, seed
from parley_dev.services import S3_VARIABLES, free_port
from tests.foundation.test_cli import CLI, ROOT, _env
from tests.localstack.conftest import INSTALL_BUDGET
from tests.support.clients import reset_clients

pytestmark = [pytest.mark.localstack, INSTALL_BUDGET]

UP_WAIT_SECONDS = 120


@pytest.fixture
def aws_at_localstack(localstack: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's AWS calls go to LocalStack; no secret comes from a variable."""
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters import base

    monkeypatch.setenv("AWS_ENDPOINT_URL", localstack)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    parameters.clear_caches()
    base.DEFAULT_PROVIDERS.clear()
    reset_clients()
    yield
    monkeypatch.undo()
    parameters.clear_caches()
    base.DEFAULT_PROVIDERS.clear()
    reset_clients()


def test_the_jwt_secret_is_read_from_localstacks_secrets_manager(
    localstack, stack, secretsmanager, tmp_path: Path
):
    port = free_port()
    # Already in LocalStack (as the compose file's init hook leaves it): kept.
    in_localstack = secrets.token_urlsafe(32)
    ensure_secret(localstack, "parley/jwt-secret", in_localstack, replace=True)
    # Set in the shell, and ignored: with LocalStack the secret comes from LocalStack.
    shell_secret = secrets.token_urlsafe(32)
    log_path = tmp_path / "up.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [*CLI, "up", "--aws", "localstack", "--port", str(port), "--data-dir", str(tmp_path)],
        cwd=ROOT,
        env=without_s3(_env(LOCALSTACK_ENDPOINT=localstack, JWT_SECRET=shell_secret)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        registered = None
        deadline = time.monotonic() + UP_WAIT_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            try:
                registered = httpx.post(
                    f"http://127.0.0.1:{port}/api/auth/register",
                    json={"username": "ada", "password": "correct horse"},
                    timeout=30,
                )
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert registered is not None and registered.status_code == 201, log_path.read_text()
        token = registered.json()["accessToken"]

        claims = jwt.decode(token, in_localstack, algorithms=["HS256"])
        assert claims["sub"] == registered.json()["user"]["id"]
        for other in (shell_secret, (tmp_path / "jwt-secret").read_text().strip()):
            with pytest.raises(jwt.InvalidSignatureError):
                jwt.decode(token, other, algorithms=["HS256"])

        # An attachment uploaded through the app lands in LocalStack's S3.
        key, content = upload_through_the_app(f"http://127.0.0.1:{port}", token)
        bucket = client("s3", localstack)
        assert bucket.get_object(Bucket="parley-attachments", Key=key)["Body"].read() == content

        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, log_path.read_text()
        output = log_path.read_text()
        assert f"LocalStack       {localstack}" in output
        assert "JWT_SECRET is ignored" in output
        # The database URL went through LocalStack too, and it is the one in use.
        database = secretsmanager.get_secret_value(SecretId=DATABASE_SECRET_NAME)
        assert database["SecretString"] == stack["DATABASE_URL"]
    finally:
        process.kill()
        process.wait()
        log.close()


def without_s3(env: dict[str, str]) -> dict[str, str]:
    """The suite's own S3 (its variables) left out: with LocalStack, S3 is LocalStack's."""
    return {name: value for name, value in env.items() if name not in S3_VARIABLES}


def upload_through_the_app(base_url: str, token: str) -> tuple[str, bytes]:
    """A chat with a second user, an upload asked for and POSTed as a browser does."""
    api = httpx.Client(base_url=f"{base_url}/api", timeout=30)
    other = api.post("/auth/register", json={"username": "bea", "password": "correct horse"}).json()
    bearer = {"Authorization": f"Bearer {token}"}
    chat = api.post(
        "/chats", json={"type": "direct", "memberIds": [other["user"]["id"]]}, headers=bearer
    )
    assert chat.status_code == 201, chat.text
    content = b"%PDF-1.4 stored in LocalStack"
    issued = api.post(
        f"/chats/{chat.json()['id']}/attachments",
        json={"filename": "notes.pdf", "contentType": "application/pdf", "size": len(content)},
        headers=bearer,
    )
    assert issued.status_code == 201, issued.text
    upload = issued.json()["upload"]
    stored = httpx.post(
        upload["url"],
        data=upload["fields"],
        files={"file": ("notes.pdf", content, "application/pdf")},
        timeout=30,
    )
    assert stored.status_code == 204, stored.text
    return upload["fields"]["key"], content


def test_a_jwt_secret_named_by_a_path_is_read_from_localstacks_ssm(
    localstack, aws_at_localstack, monkeypatch
):
    from parley.auth.secrets import get_jwt_secret

    name = f"/parley/test/{secrets.token_hex(4)}"
    value = secrets.token_urlsafe(32)
    monkeypatch.setenv("JWT_SECRET_NAME", name)
    variables = seed(localstack, "postgresql+psycopg://unused/parley", value)
    reset_clients()

    assert variables["JWT_SECRET_NAME"] == name
    assert (
        client("ssm", localstack).get_parameter(Name=name, WithDecryption=True)["Parameter"][
            "Value"
        ]
        == value
    )
    assert get_jwt_secret() == value


def test_the_database_url_is_read_from_localstacks_secrets_manager(
    localstack, stack, aws_at_localstack, monkeypatch
):
    from parley.db.session import database_url

    arn = ensure_secret(localstack, DATABASE_SECRET_NAME, stack["DATABASE_URL"], replace=True)
    monkeypatch.setenv("DATABASE_SECRET_ARN", arn)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody@192.0.2.1:1/nowhere")
    reset_clients()

    assert database_url() == stack["DATABASE_URL"]
