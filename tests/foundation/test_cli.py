"""`parley-dev` as a user runs it: in a subprocess, from the project root."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect

from parley_dev.services import S3_VARIABLES, free_port
from tests.foundation.test_services import _wait_dead

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "parley_dev.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **extra}
    return env


def _env_without_services(**extra: str) -> dict[str, str]:
    env = _env(**extra)
    for name in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", *S3_VARIABLES):
        env.pop(name, None)
    return env


def _run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args],
        cwd=ROOT,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found.append(int(entry.name))
    return found


def test_invoke_calls_a_handler_with_an_event_file_and_prints_its_result() -> None:
    result = _run_cli("invoke", "rest", "--event", "tests/events/http_get_health.json")

    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["statusCode"] == 200
    assert json.loads(printed["body"])["down"] == []


def test_invoke_names_the_known_functions_when_one_does_not_exist() -> None:
    result = _run_cli("invoke", "no_such_function")

    assert result.returncode != 0
    assert "no function 'no_such_function'" in result.stderr
    assert "rest" in result.stderr


def test_up_says_clearly_that_the_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = _run_cli("up", "--port", str(port))

    assert result.returncode == 1
    assert f"port {port} is already in use" in result.stderr


def test_services_prints_exports_and_stops_everything_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [*CLI, "services", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        env=_env_without_services(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        exports = {}
        deadline = time.monotonic() + 90
        expected = {
            "DATABASE_URL",
            "REDIS_URL",
            "KAFKA_BOOTSTRAP_SERVERS",
            "ATTACHMENTS_BUCKET",
            "AWS_ENDPOINT_URL_S3",
        }
        while len(exports) < len(expected) and time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("export "):
                name, value = line.removeprefix("export ").strip().split("=", 1)
                exports[name] = value.strip("'")
        assert set(exports) == expected
        children = _children_of(process.pid)
        assert len(children) == 4

        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert _wait_dead(children) == []
    finally:
        process.kill()


# What API Gateway gives an integration (HTTP API 30 s, $connect 29 s): the
# environments `up` provisions still import while these requests run, so a
# client that waits less measures the machine's load, not the wiring.
GATEWAY_WAIT_SECONDS = 30


def _a_new_chat_reaches_the_other_member_live(port: int) -> None:
    """REST, WebSocket and @connections wired together as `up` serves them."""
    api = f"http://127.0.0.1:{port}/api"
    ada, bob = (
        httpx.post(
            f"{api}/auth/register",
            json={"username": name, "password": "correct horse"},
            timeout=GATEWAY_WAIT_SECONDS,
        ).json()
        for name in ("ada", "bob")
    )
    with connect(
        f"ws://127.0.0.1:{port}/ws?token={bob['accessToken']}", open_timeout=GATEWAY_WAIT_SECONDS
    ) as socket:
        socket.send(json.dumps({"action": "ping", "requestId": "1"}))
        assert json.loads(socket.recv(timeout=GATEWAY_WAIT_SECONDS))["message"] == "pong"

        chat = httpx.post(
            f"{api}/chats",
            json={"type": "direct", "memberIds": [bob["user"]["id"]]},
            headers={"Authorization": f"Bearer {ada['accessToken']}"},
            timeout=GATEWAY_WAIT_SECONDS,
        )
        assert chat.status_code == 201

        frame = json.loads(socket.recv(timeout=GATEWAY_WAIT_SECONDS))
    assert frame["type"] == "chat:member"
    assert frame["data"]["chatId"] == chat.json()["id"]


def test_up_serves_health_then_stops_leaving_no_process_behind(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        # Environments provisioned ahead: what is tested is the wiring, not cold starts.
        [*CLI, "up", "--port", str(port), "--data-dir", str(tmp_path), "--provisioned", "1"],
        cwd=ROOT,
        env=_env_without_services(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5)
                if health.status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        assert health is not None and health.status_code == 200, process.stdout.read()
        assert health.json()["down"] == []
        _a_new_chat_reaches_the_other_member_live(port)
        children = _children_of(process.pid)
        assert len(children) >= 3

        second = _run_cli("up", "--port", str(port))
        assert second.returncode == 1
        assert "already in use" in second.stderr

        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
        assert _wait_dead(children) == []
    finally:
        process.kill()
