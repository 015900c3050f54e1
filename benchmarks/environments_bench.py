"""The dev gateway's two ways of running functions, under the same load, in one run.

- threads:      every handler in the gateway's process (`--in-process`);
- environments: each function in worker processes of its own (the default).

Two loads, each with C clients sending frames as fast as their acks come back:
  - echo:    the fixture template's two-way echo route (a trivial handler);
  - message: `template.yaml`'s `message` route, each client a sender in a
             direct chat of its own (embedded PostgreSQL, Redis and broker,
             started here in a temporary directory).

The gateway runs in a process of its own; its CPU time (with its
environments') is read from /proc, so the figures say how much of the
machine each mode can use.

    .venv/bin/python benchmarks/environments_bench.py [--clients 20] [--frames 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "parley"), str(ROOT / "infra"), str(ROOT)]
os.chdir(ROOT)

from harness import flooding_environment, local_stack, report, summary  # noqa: E402

FIXTURE = ROOT / "tests" / "gateway" / "fixture" / "template.yaml"
SERVE = """
import sys
from pathlib import Path
from parley_dev.gateway import GatewayOptions, create_app, serve
options = GatewayOptions(run_event_sources=False, run_schedules=False,
                         in_process=sys.argv[3] == "threads")
serve(create_app(Path(sys.argv[1]), options=options), port=int(sys.argv[2]))
"""
_TICKS = os.sysconf("SC_CLK_TCK")
LOG = Path(tempfile.gettempdir()) / "environments_bench.log"


def cpu_seconds(pid: int) -> float:
    """CPU time of `pid`, its live children and the children it has reaped."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(entry.name) == pid:
            total += sum(int(f) for f in fields[11:15]) / _TICKS
        elif int(fields[1]) == pid:
            total += sum(int(f) for f in fields[11:13]) / _TICKS
    return total


class Gateway:
    def __init__(self, template: Path, mode: str) -> None:
        from parley_dev.services import free_port

        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(template), str(self.port), mode],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path[:3])},
            stderr=open(LOG, "a"),  # noqa: SIM115 (the child keeps it)
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=0.5)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the gateway did not start")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def drive(url_of, frame_of, clients: int, frames: int) -> tuple[list[float], int, float]:
    """Each client sends `frames` frames, one at a time.

    Returns the latencies of the frames answered ok, the count of the others
    (an error ack, API Gateway's "Internal server error", or no answer in
    30 s), and the wall time.
    """
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    failures = 0

    async def client(index: int) -> list[float]:
        nonlocal failures
        try:
            socket = await connect(url_of(index), max_size=None, max_queue=None, open_timeout=30)
        except (OSError, TimeoutError, InvalidStatus):
            failures += frames
            return []
        async with socket:
            samples = []
            for n in range(frames):
                request_id = f"r{n}"
                started = time.perf_counter()
                await socket.send(json.dumps(frame_of(index, request_id)))
                if await _answered_ok(socket, request_id):
                    samples.append(time.perf_counter() - started)
                else:
                    failures += 1
            return samples

    started = time.perf_counter()
    results = await asyncio.gather(*(client(i) for i in range(clients)))
    samples = [s for per_client in results for s in per_client]
    return samples, failures, time.perf_counter() - started


async def _answered_ok(socket, request_id: str) -> bool:
    deadline = time.monotonic() + 30
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = json.loads(await asyncio.wait_for(socket.recv(), left))
        except TimeoutError:
            return False
        if frame.get("route") == "echo":
            return True
        if frame.get("requestId") == request_id:
            return frame.get("status") == "ok"
        if frame.get("message") == "Internal server error":
            return False
    return False


def measure(template: Path, mode: str, url_of, frame_of, clients: int, frames: int) -> dict:
    gateway = Gateway(template, mode)
    try:
        # A first pass warms every environment (or thread) up; the second is measured.
        asyncio.run(drive(url_of(gateway.port), frame_of, clients, 2))
        cpu_before = cpu_seconds(gateway.process.pid)
        samples, failures, wall = asyncio.run(
            drive(url_of(gateway.port), frame_of, clients, frames)
        )
        cpu = cpu_seconds(gateway.process.pid) - cpu_before
    finally:
        gateway.stop()
    result = {
        **(summary(samples) if samples else {}),
        "ok": len(samples),
        "failed": failures,
        "frames_per_s": len(samples) / wall,
        "cpu_cores_used": cpu / wall,
    }
    print(f"  {template.parent.name}/{template.name} {mode}: {json.dumps(result)}", flush=True)
    return result


def echo_load(clients: int, frames: int) -> dict[str, dict]:
    def url_of(port: int):
        return lambda _index: f"ws://127.0.0.1:{port}/ws"

    def frame_of(_index: int, request_id: str) -> dict:
        return {"action": "echo", "requestId": request_id}

    return {
        mode: measure(FIXTURE, mode, url_of, frame_of, clients, frames)
        for mode in ("threads", "environments")
    }


def message_load(clients: int, frames: int) -> dict[str, dict]:
    from parley.auth.tokens import issue_token
    from parley.db.models import Chat, ChatMember, ChatType, User
    from parley.db.session import session_scope

    pairs = []
    with session_scope() as session:
        for _ in range(clients):
            sender, partner, chat = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            session.add_all(
                User(id=user, username=f"b{user.hex[:12]}", password_hash="x")
                for user in (sender, partner)
            )
            session.add(Chat(id=chat, type=ChatType.DIRECT.value))
            session.flush()
            session.add_all(ChatMember(chat_id=chat, user_id=u) for u in (sender, partner))
            pairs.append((issue_token(sender)[0], chat))

    def url_of(port: int):
        return lambda index: f"ws://127.0.0.1:{port}/ws?token={pairs[index][0]}"

    def frame_of(index: int, request_id: str) -> dict:
        body = f"{request_id} {uuid.uuid4().hex}"
        return {"action": "message", "requestId": request_id,
                "data": {"chatId": str(pairs[index][1]), "body": body}}  # fmt: skip

    return {
        mode: measure(ROOT / "template.yaml", mode, url_of, frame_of, clients, frames)
        for mode in ("threads", "environments")
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--out", help="also write the results (JSON) to this file")
    args = parser.parse_args()

    flooding_environment()
    results: dict = {
        "machine": f"{os.cpu_count()} vCPU, Python {platform.python_version()}, "
        f"{platform.machine()}",
        "clients": args.clients,
        "frames_per_client": args.frames,
    }
    print(f"gateway logs: {LOG}", flush=True)
    results["echo"] = echo_load(args.clients, args.frames)
    with local_stack():
        results["message"] = message_load(args.clients, args.frames)
    report(results, args.out)


if __name__ == "__main__":
    main()
