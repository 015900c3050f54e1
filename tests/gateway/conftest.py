"""A gateway over the fixture template, a journal of what its handlers saw,
and clients: websockets, boto3's management API, httpx."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from websockets.sync.client import ClientConnection, connect

from parley_dev.gateway import GatewayOptions, GatewayServer, create_app

FIXTURE_TEMPLATE = Path(__file__).parent / "fixture" / "template.yaml"


@dataclass
class Journal:
    """What the fixture handlers recorded, read back with deadlines (no sleeps)."""

    path: Path

    def entries(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        found = [json.loads(line) for line in lines if line]
        return [e for e in found if kind is None or e["kind"] == kind]

    def for_connection(self, kind: str, connection_id: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.entries(kind)
            if e["event"]["requestContext"]["connectionId"] == connection_id
        ]

    def wait_for(
        self, found: Callable[[], list[dict[str, Any]]], count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            entries = found()
            if len(entries) >= count or time.monotonic() > deadline:
                return entries
            time.sleep(0.02)


@pytest.fixture(scope="session")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journal]:
    path = tmp_path_factory.mktemp("journal") / "events.jsonl"
    previous = os.environ.get("FIXTURE_JOURNAL")
    os.environ["FIXTURE_JOURNAL"] = str(path)
    yield Journal(path)
    if previous is None:
        os.environ.pop("FIXTURE_JOURNAL", None)
    else:
        os.environ["FIXTURE_JOURNAL"] = previous


@pytest.fixture(scope="session")
def gateway(journal: Journal) -> Iterator[GatewayServer]:
    options = GatewayOptions(run_event_sources=False, run_schedules=False)
    with GatewayServer(create_app(FIXTURE_TEMPLATE, options=options)) as server:
        yield server


@pytest.fixture(scope="session")
def management(gateway: GatewayServer) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"{gateway.url}/ws",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def open_client(server: GatewayServer, stage: str = "ws", query: str = "", **kwargs: Any):
    url = server.ws_url(stage) + (f"?{query}" if query else "")
    return connect(url, open_timeout=10, max_size=None, **kwargs)


def connection_id_of(client: ClientConnection) -> str:
    """Ask the echo route: the gateway tells each handler its caller's id."""
    client.send(json.dumps({"action": "echo", "whoami": True}))
    return json.loads(client.recv(timeout=10))["connectionId"]


def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def process_alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def children_of(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (a gateway's execution environments)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if fields is not None and int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found
