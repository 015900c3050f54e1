"""Services of a fault test's own, so it can stall, kill and restart them.

Each fixture starts a fresh embedded service, points the process's settings
at it for the length of the test, and hands back a `Fault` that acts on the
real process: `pause()`/`resume()` send SIGSTOP/SIGCONT to all of its processes
(PostgreSQL's backends included), `restart()` kills it and starts a
new one on the same port (with empty data, as after a crash of a cache).
The rest of the suite never sees these services.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from parley_dev.services import RunningService, start_kafka, start_postgres, start_redis
from tests.support.clients import reset_clients


@dataclass
class Fault:
    """One running service of the test's own, and what can be done to it."""

    service: RunningService
    start: Callable[[Path, int | None], RunningService]
    data_dir: Path
    port: int
    restarts: int = 0
    # What a fresh process needs before clients use it (topics, a schema).
    prepare: Callable[[], None] = lambda: None
    # A database restarts on its data; a cache or an in-memory broker without.
    keeps_data: bool = False

    @property
    def pid(self) -> int:
        assert self.service.process is not None
        return self.service.process.pid

    def processes(self) -> list[int]:
        """The service's process and all its descendants (PostgreSQL's backends
        lead process groups of their own, so a group signal would miss them)."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        family, frontier = [self.pid], [self.pid]
        while frontier:
            children = [pid for pid, parent in parents.items() if parent in frontier]
            family += children
            frontier = children
        return family

    def pause(self) -> None:
        """SIGSTOP to every process of the service: it stops answering, sockets stay open."""
        for pid in self.processes():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self.processes():
            os.kill(pid, signal.SIGCONT)

    def kill(self) -> None:
        process = self.service.process
        assert process is not None
        if process.poll() is None:
            family = self.processes()
            for pid in family:
                os.kill(pid, signal.SIGKILL)
            process.wait()

    def start_again(self) -> None:
        """A new process on the same port (with fresh data unless `keeps_data`)."""
        self.restarts += 1
        run = 0 if self.keeps_data else self.restarts
        self.service = self.start(self.data_dir / f"run{run}", self.port)
        self.prepare()

    def restart(self) -> None:
        self.kill()
        self.start_again()

    def stop(self) -> None:
        self.kill()


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def _own(
    tmp_path: Path,
    name: str,
    variable: str,
    start: Callable[[Path, int | None], RunningService],
    prepare: Callable[[], None] = lambda: None,
    keeps_data: bool = False,
) -> Iterator[Fault]:
    data_dir = tmp_path / name
    service = start(data_dir / "run0", None)
    fault = Fault(
        service, start, data_dir, _port_of(service.url), prepare=prepare, keeps_data=keeps_data
    )
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(variable, service.url)
            reset_clients()
            prepare()
            yield fault
    finally:
        fault.stop()
        reset_clients()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Fault]:
    """A Kafka-protocol broker of the test's own, its topics created."""
    from parley.events.kafka import ensure_topics

    yield from _own(
        tmp_path,
        "kafka",
        "KAFKA_BOOTSTRAP_SERVERS",
        lambda d, port: start_kafka(d, port=port),
        prepare=ensure_topics,
    )


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Fault]:
    """A Redis of the test's own; `restart()` loses its data."""
    yield from _own(tmp_path, "redis", "REDIS_URL", lambda d, port: start_redis(d, port=port))


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[Fault]:
    """A PostgreSQL of the test's own, migrated; `pause()` stalls every backend."""
    from parley.db.migrate import upgrade

    yield from _own(
        tmp_path,
        "postgres",
        "DATABASE_URL",
        lambda d, port: start_postgres(d, port=port),
        prepare=upgrade,
        keeps_data=True,
    )


@pytest.fixture(autouse=True)
def publishing_resumed() -> Iterator[None]:
    """A publishing pause left by an outage must not leak into the next test."""
    from parley.events import publisher

    publisher.resume_publishing()
    yield
    publisher.resume_publishing()


@pytest.fixture
def fault_gateway() -> Iterator[str]:
    """A dev gateway of the test's own, started after the services it asks for
    first (list this fixture after `own_redis`/`own_postgres`/`own_broker`), so
    its functions use them. Its base URL."""
    from parley.config import get_settings
    from parley_dev.gateway import GatewayOptions, GatewayServer, create_app
    from tests.support import ROOT

    # Functions run in the test's process: they use the services this test
    # owns, and no environment has to start cold under a stalled service.
    options = GatewayOptions(run_event_sources=False, run_schedules=False, in_process=True)
    server = GatewayServer(
        create_app(ROOT / "template.yaml", options=options, web_dir=ROOT / "web")
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WEBSOCKET_CONNECTIONS_URL", f"{server.url}/ws")
        get_settings.cache_clear()
        with server:
            yield server.url
    get_settings.cache_clear()


@pytest.fixture
def fault_chatters(fault_gateway: str) -> Iterator[object]:
    """Alice and Bob (see tests/e2e) on the fault test's own gateway."""
    from tests.support.chatters import chatters_on

    with chatters_on(fault_gateway) as world:
        yield world
