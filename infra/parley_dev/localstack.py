"""LocalStack for the local stack: run on the host, or one already running.

`parley-dev up --aws localstack` sends every AWS call of the stack to
LocalStack through the standard `AWS_ENDPOINT_URL` variable, which every
boto3 client honours. Unless `LOCALSTACK_ENDPOINT` names a LocalStack that
runs already (the compose file's container, say), LocalStack's runtime runs
on this machine, without Docker, from a virtual environment of its own that
is installed on first use.

The secrets the stack reads are seeded at start: the JWT signing secret and
the database secret in Secrets Manager, or the JWT secret as an SSM
parameter when `JWT_SECRET_NAME` is a `/path`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from parley_dev.localenv import REGION
from parley_dev.services import RunningService, ServiceError, _spawn, _wait_until, port_is_free

VERSION = "4.9.2"
# localstack-core pins nothing but boto; these are the newest releases of its
# dependencies that this release runs with.
REQUIREMENTS = (
    f"localstack-core[runtime]=={VERSION}",
    "cbor2<5.7",
    "pyopenssl==24.2.1",
    "cryptography>=42,<44",
    "psutil<6.1",
    "service-identity<24.2",
    "joserfc<1.1",
)
# What the stack and its template use, and nothing more: each costs start time.
SERVICES = "s3,secretsmanager,ssm,sqs,lambda,cloudformation,iam,sts,logs,events"
DEFAULT_PORT = 4566
# LocalStack accepts any credentials; these map to its default account.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}

JWT_SECRET_NAME = "parley/jwt-secret"
DATABASE_SECRET_NAME = "parley/database"

_INSTALL_TIMEOUT_SECONDS = 1800.0
_START_TIMEOUT_SECONDS = 120.0


def requirements_key() -> str:
    """Names the installed set: a venv made for other requirements is made again."""
    return hashlib.sha256("\n".join(REQUIREMENTS).encode()).hexdigest()[:12]


def venv_dir(data_dir: Path, environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get("LOCALSTACK_VENV") or data_dir / "localstack" / "venv").resolve()


def port(environ: Mapping[str, str] = os.environ) -> int:
    raw = environ.get("LOCALSTACK_PORT") or str(DEFAULT_PORT)
    try:
        return int(raw)
    except ValueError:
        raise ServiceError(f"LOCALSTACK_PORT must be a port number, not {raw!r}") from None


# --- installing ---------------------------------------------------------------


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def is_installed(venv: Path) -> bool:
    marker = venv / ".parley-requirements"
    return (
        _venv_python(venv).exists()
        and marker.exists()
        and marker.read_text() == (requirements_key())
    )


def install(
    venv: Path, log_path: Path, on_step: Callable[[str], None] = lambda _line: None
) -> Path:
    """LocalStack's runtime in `venv`, installed unless there already; its Python.

    pip's whole output goes to `log_path`; `on_step` gets a line every few
    packages, so a first install (a few minutes) shows that it moves.
    """
    python = _venv_python(venv)
    if is_installed(venv):
        return python
    log_path.parent.mkdir(parents=True, exist_ok=True)
    on_step(f"LocalStack {VERSION}: installing into {venv} (first use: a few minutes)")
    started = time.monotonic()
    with open(log_path, "w") as log:
        if not python.exists():
            subprocess.run(
                [sys.executable, "-m", "venv", str(venv)],
                check=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process = subprocess.Popen(
            [str(python), "-m", "pip", "install", "--progress-bar", "off", *REQUIREMENTS],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert process.stdout is not None
        collected = 0
        for line in process.stdout:
            log.write(line)
            if line.startswith("Collecting "):
                collected += 1
                if collected % 20 == 0:
                    on_step(f"LocalStack: {collected} packages resolved")
            elif line.startswith("Installing collected packages"):
                on_step(f"LocalStack: installing {collected} packages")
        try:
            status = process.wait(_INSTALL_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            status = -1
    if status != 0:
        raise ServiceError(f"LocalStack could not be installed (pip failed); see {log_path}")
    (venv / ".parley-requirements").write_text(requirements_key())
    on_step(f"LocalStack: installed in {time.monotonic() - started:.0f}s")
    return python


# --- running ------------------------------------------------------------------


def health(endpoint: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """LocalStack's health document, or None when nothing answers it at `endpoint`."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=timeout) as answer:
            return json.loads(answer.read())
    except (OSError, ValueError):
        return None


def _ready(endpoint: str) -> Callable[[], bool]:
    wanted = set(SERVICES.split(","))

    def check() -> bool:
        document = health(endpoint, timeout=1.0) or {}
        states = document.get("services") or {}
        return all(states.get(name) in {"available", "running"} for name in wanted)

    return check


def runtime_environment(data_dir: Path, port_number: int) -> dict[str, str]:
    """How LocalStack's runtime is started on the host: loopback only, its files under data_dir."""
    root = data_dir.resolve() / "localstack" / "filesystem"
    return {
        **os.environ,
        "GATEWAY_LISTEN": f"127.0.0.1:{port_number}",
        "SERVICES": SERVICES,
        "FILESYSTEM_ROOT": str(root),
        # No DNS server on port 53, no certificate download, no usage events:
        # nothing outside this machine is needed or contacted.
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
        # A resource type the free edition lacks fails the deploy instead of
        # being skipped: the template's conditions must leave it out.
        "CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES": "0",
    }


def start_localstack(
    data_dir: Path,
    environ: Mapping[str, str] = os.environ,
    on_step: Callable[[str], None] = lambda _line: None,
    timeout: float = _START_TIMEOUT_SECONDS,
) -> RunningService:
    """LocalStack's runtime on 127.0.0.1:LOCALSTACK_PORT, as our child (it dies with us)."""
    port_number = port(environ)
    endpoint = f"http://127.0.0.1:{port_number}"
    if not port_is_free(port_number):
        hint = (
            f"LOCALSTACK_ENDPOINT={endpoint} to use it"
            if health(endpoint) is not None
            else "stop what listens there"
        )
        raise ServiceError(
            f"port {port_number} is taken, so LocalStack cannot start there: set {hint}, "
            f"or LOCALSTACK_PORT={port_number + 1} to start another"
        )
    logs = data_dir.resolve() / "logs"
    python = install(venv_dir(data_dir, environ), logs / "localstack-install.log", on_step)
    log_path = logs / "localstack.log"
    process = _spawn(
        "LocalStack",
        [str(python), "-m", "localstack.runtime.main"],
        log_path,
        signal.SIGTERM,
        env=runtime_environment(data_dir, port_number),
    )
    service = RunningService("LocalStack", endpoint, log_path, process)
    try:
        _wait_until("LocalStack", _ready(endpoint), process, log_path, timeout)
    except BaseException:
        service.stop()
        raise
    return service


def attach(endpoint: str) -> RunningService:
    """A LocalStack someone else runs; it must answer now."""
    endpoint = endpoint.rstrip("/")
    document = health(endpoint)
    if document is None:
        raise ServiceError(
            f"LOCALSTACK_ENDPOINT={endpoint}: no LocalStack answers there "
            "(is it running? docker compose -f localstack/docker-compose.yml up -d)"
        )
    missing = [
        name
        for name in ("s3", "secretsmanager", "ssm")
        if (document.get("services") or {}).get(name) not in {"available", "running"}
    ]
    if missing:
        raise ServiceError(
            f"LocalStack at {endpoint} does not offer {', '.join(missing)} (its SERVICES setting)"
        )
    return RunningService("LocalStack", endpoint)


# --- the stack's AWS environment ------------------------------------------------


def client(service: str, endpoint: str) -> Any:
    """A boto3 client of LocalStack's `service`, whatever the process's variables say."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_REGION") or REGION,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY")
        or CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def aws_environment(endpoint: str, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """What makes every boto3 client of the stack (and its handlers) call LocalStack."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        # LocalStack accepts any credentials; a shell without any gets these.
        **{name: environ.get(name) or value for name, value in CREDENTIALS.items()},
    }


def ensure_secret(endpoint: str, name: str, value: str, *, replace: bool) -> str:
    """The secret's ARN; created with `value` when missing, its value replaced when told."""
    secrets = client("secretsmanager", endpoint)
    try:
        arn = secrets.describe_secret(SecretId=name)["ARN"]
    except secrets.exceptions.ResourceNotFoundException:
        return secrets.create_secret(
            Name=name, SecretString=value, Description="Parley (local stack)"
        )["ARN"]
    if replace and secrets.get_secret_value(SecretId=name)["SecretString"] != value:
        secrets.put_secret_value(SecretId=name, SecretString=value)
    return arn


def ensure_parameter(endpoint: str, name: str, value: str) -> None:
    """An SSM SecureString parameter, created with `value` when missing."""
    ssm = client("ssm", endpoint)
    with contextlib.suppress(ssm.exceptions.ParameterAlreadyExists):
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=False)


def seed(
    endpoint: str, database_url: str, jwt_secret: str, environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The stack's secrets in LocalStack; the variables that make the stack read them there.

    The JWT secret is created with `jwt_secret` only when LocalStack has none
    yet (one the compose file's init hook made is kept). The database secret
    always holds the current DATABASE_URL: the embedded PostgreSQL's port
    changes from one start to the next.
    """
    jwt_name = environ.get("JWT_SECRET_NAME") or JWT_SECRET_NAME
    if jwt_name.startswith("/"):
        ensure_parameter(endpoint, jwt_name, jwt_secret)
    else:
        ensure_secret(endpoint, jwt_name, jwt_secret, replace=False)
    database_arn = ensure_secret(endpoint, DATABASE_SECRET_NAME, database_url, replace=True)
    return {"JWT_SECRET_NAME": jwt_name, "DATABASE_SECRET_ARN": database_arn}
