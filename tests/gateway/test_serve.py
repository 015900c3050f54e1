"""`serve` shuts down gracefully on SIGTERM: 1001 to every socket, $disconnect, exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from parley_dev.services import free_port

from .conftest import (
    FIXTURE_TEMPLATE,
    Journal,
    children_of,
    connection_id_of,
    process_alive,
)

ROOT = Path(__file__).parents[2]
SERVE = """
import sys
from pathlib import Path
from parley_dev.gateway import GatewayOptions, create_app, serve
options = GatewayOptions(run_event_sources=False, run_schedules=False)
serve(create_app(Path(sys.argv[1]), options=options), port=int(sys.argv[2]))
"""


def _wait_until_serving(port: int, process: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail("the gateway did not start")


def _start_gateway(port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "infra"), str(ROOT)])}
    return subprocess.Popen(
        [sys.executable, "-c", SERVE, str(FIXTURE_TEMPLATE), str(port)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_closes_sockets_runs_disconnect_and_exits(journal: Journal):
    port = free_port()
    process = _start_gateway(port)
    try:
        _wait_until_serving(port, process)
        with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10) as client:
            connection_id = connection_id_of(client)
            environments = children_of(process.pid)
            process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed:
                client.recv(timeout=15)
        assert closed.value.rcvd.code == 1001
        # A stop asked for by signal is a normal, successful exit.
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # The connect and echo functions' environments at least; none outlives the gateway.
    assert len(environments) >= 2
    assert not [pid for pid in environments if process_alive(pid)]
    disconnects = journal.for_connection("disconnect", connection_id)
    assert [d["event"]["requestContext"]["disconnectStatusCode"] for d in disconnects] == [1001]
    log = process.stderr.read() if process.stderr else ""
    assert "route=$disconnect" in log and f"connectionId={connection_id}" in log


def test_a_killed_gateway_leaves_no_environment_running():
    port = free_port()
    process = _start_gateway(port)
    try:
        _wait_until_serving(port, process)
        with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10) as client:
            connection_id_of(client)
            environments = children_of(process.pid)
            process.kill()
            process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert len(environments) >= 2
    deadline = time.monotonic() + 10
    while [pid for pid in environments if process_alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in environments if process_alive(pid)]
