"""Services of a fault test's own, so it can stall, kill and restart them.

Each fixture starts a fresh embedded service, points the process's settings
at it for the length of the test, and hands back a `Fault` that acts on the
real process: `pause()`/`resume()` send SIGSTOP/SIGCONT to its whole process
group (PostgreSQL's backends included), `restart()` kills it and starts a
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
from tests.conftest import reset_clients


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

    def pause(self) -> None:
        os.killpg(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        process = self.service.process
        assert process is not None
        if process.poll() is None:
            os.killpg(self.pid, signal.SIGCONT)  # a stopped process cannot die cleanly
            os.killpg(self.pid, signal.SIGKILL)
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
