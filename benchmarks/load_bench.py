"""The send path under load: N clients connecting at once, each sender one message a second.

Clients come in pairs (a direct chat each: one sender, one recipient) or,
with ``--group-size G``, in groups of G (one sender, G-1 recipients). They
all connect at the same moment, send their first frame (a ping), then each
sender sends one message a second (under the per-user rate limit) for
``--duration`` seconds. Measured: send -> the frame reached a recipient
(p50/p99 over every recipient), send -> ack, what was refused, and what was
lost (a recipient never got it).

The same clients, the same pattern and the same machine run against a bare
relay in the same run (the floor): an asyncio `websockets` server doing, per
message, one PostgreSQL INSERT + commit, one Redis write and a push to the
recipients. It runs in a process of its own, as the gateway does.

Then the warm `message` handler, invoked directly in this process, against
one INSERT + commit + one Redis command (`realtime_bench.warm`).

By default the script starts its own stack: embedded PostgreSQL, Redis and
broker in a temporary directory, and `parley-dev up` (what `make run`
serves) on a free port. With ``--url`` it targets a running stack instead;
DATABASE_URL, REDIS_URL and JWT_SECRET must then be those of that stack
(the users are seeded directly in its database).

    .venv/bin/python benchmarks/load_bench.py -n 100 --duration 15
    .venv/bin/python benchmarks/load_bench.py -n 500 --duration 15
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from socket import create_connection
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "parley"), str(ROOT / "infra"), str(ROOT)]

from harness import report  # noqa: E402

DRAIN_SECONDS = 15.0


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000


# --- the population ------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    """A chat: its sender and its recipients."""

    chat_id: uuid.UUID
    sender: uuid.UUID
    recipients: tuple[uuid.UUID, ...]


def seed(clients: int, group_size: int) -> list[Team]:
    from parley.chat.chats import direct_key
    from parley.db.models import Chat, ChatMember, ChatType, User
    from parley.db.session import session_scope

    teams = []
    for _ in range(clients // group_size):
        users = [uuid.uuid4() for _ in range(group_size)]
        teams.append(Team(uuid.uuid4(), users[0], tuple(users[1:])))
    with session_scope() as session:
        for team in teams:
            for user in (team.sender, *team.recipients):
                session.add(User(id=user, username=f"load{user.hex[:16]}", password_hash="x"))
        session.flush()
        for team in teams:
            if group_size == 2:
                key = direct_key(team.sender, team.recipients[0])
                session.add(Chat(id=team.chat_id, type=ChatType.DIRECT.value, direct_key=key))
            else:
                session.add(Chat(id=team.chat_id, type=ChatType.GROUP.value, title="load"))
        session.flush()
        for team in teams:
            session.add_all(
                ChatMember(chat_id=team.chat_id, user_id=user)
                for user in (team.sender, *team.recipients)
            )
    return teams


# --- one load run against a target -----------------------------------------------


@dataclass
class Tally:
    connect_failed: int = 0
    first_frame_refused: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    acked: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    expected: int = 0
    delivered: int = 0
    duplicates: int = 0
    latencies: list[float] = field(default_factory=list)
    ack_latencies: list[float] = field(default_factory=list)
    first_send: float = 0.0
    last_send: float = 0.0
    # Acked messages, and how many recipients each still misses.
    missing: dict[str, int] = field(default_factory=dict)


class Target(ABC):
    """How a client reaches the system under test: Parley, or the bare relay floor."""

    name = ""

    @abstractmethod
    def url(self, user: uuid.UUID) -> str:
        """Where `user`'s client connects."""

    @abstractmethod
    def message(self, team: Team, body: str) -> dict[str, Any]:
        """The frame the team's sender sends."""


class Parley(Target):
    name = "parley"

    def __init__(self, base_url: str) -> None:
        from parley.auth.tokens import issue_token

        self.ws = base_url.replace("http://", "ws://").rstrip("/") + "/ws"
        self.issue = issue_token

    def url(self, user: uuid.UUID) -> str:
        return f"{self.ws}?token={self.issue(user)[0]}"

    def message(self, team: Team, body: str) -> dict[str, Any]:
        return {"chatId": str(team.chat_id), "body": body}


class Floor(Target):
    name = "floor"

    def __init__(self, port: int) -> None:
        self.base = f"ws://127.0.0.1:{port}/"

    def url(self, user: uuid.UUID) -> str:
        return f"{self.base}?user={user}"

    def message(self, team: Team, body: str) -> dict[str, Any]:
        return {"to": [str(user) for user in team.recipients], "body": body}


async def warm_up(target: Target, teams: list[Team]) -> None:
    """A few clients connect, ping, send one message and leave, so that the functions'
    execution environments are started before the measured clients come all at once."""
    from websockets.asyncio.client import connect

    async def one(team: Team) -> None:
        try:
            await use(team)
        except Exception as error:  # a refused warm-up client is no reason to stop
            print(f"[{target.name}] warm-up client failed: {error}", flush=True)

    async def use(team: Team) -> None:
        sockets = [
            await connect(target.url(user), open_timeout=120, ping_interval=None)
            for user in (team.sender, *team.recipients)
        ]
        for socket in sockets:
            await socket.send(json.dumps({"action": "ping", "requestId": "warm"}))
        frame = {"action": "message", "requestId": "warm-m",
                 "data": target.message(team, "warm-up")}  # fmt: skip
        await sockets[0].send(json.dumps(frame))
        await asyncio.sleep(2)
        for socket in sockets:
            await socket.close()

    started = time.perf_counter()
    await asyncio.gather(*(one(team) for team in teams))
    await asyncio.sleep(2)
    print(f"[{target.name}] warmed up in {time.perf_counter() - started:.1f} s", flush=True)


async def run_load(target: Target, teams: list[Team], duration: float) -> Tally:
    from websockets.asyncio.client import connect

    tally = Tally()
    users = [user for team in teams for user in (team.sender, *team.recipients)]
    seen: dict[str, int] = {}
    recipients_of = {team.sender: len(team.recipients) for team in teams}
    acked_ids: dict[str, asyncio.Future] = {}

    async def open_one(user: uuid.UUID):
        try:
            return await connect(
                target.url(user), max_size=None, max_queue=None, open_timeout=60,
                ping_interval=None,
            )  # fmt: skip
        except Exception:
            tally.connect_failed += 1
            return None

    print(f"[{target.name}] connecting {len(users)} clients at once", flush=True)
    started = time.perf_counter()
    sockets = await asyncio.gather(*(open_one(user) for user in users))
    socket_of = dict(zip(users, sockets, strict=True))
    print(
        f"[{target.name}] connected in {time.perf_counter() - started:.1f} s,"
        f" {tally.connect_failed} failed",
        flush=True,
    )

    async def read(socket) -> None:
        try:
            async for raw in socket:
                frame = json.loads(raw)
                if frame.get("type") == "ack":
                    future = acked_ids.pop(frame.get("requestId"), None)
                    if future is not None and not future.done():
                        future.set_result(frame)
                elif frame.get("type") == "message":
                    body = frame["data"]["body"]
                    if not body.startswith("load|"):
                        continue
                    _, key, sent_at = body.split("|")
                    count = seen.get(key, 0) + 1
                    seen[key] = count
                    if count > recipients_of_key[key]:
                        tally.duplicates += 1
                        continue
                    tally.delivered += 1
                    tally.latencies.append(time.perf_counter() - float(sent_at))
                    if key in tally.missing:
                        tally.missing[key] -= 1
        except Exception:
            return

    recipients_of_key: dict[str, int] = {}
    readers = [asyncio.create_task(read(socket)) for socket in sockets if socket is not None]

    async def request(socket, action: str, data: dict[str, Any]) -> dict[str, Any]:
        request_id = uuid.uuid4().hex
        future = asyncio.get_running_loop().create_future()
        acked_ids[request_id] = future
        await socket.send(json.dumps({"action": action, "requestId": request_id, "data": data}))
        try:
            return await asyncio.wait_for(future, 30)
        except TimeoutError:
            acked_ids.pop(request_id, None)
            return {"status": "error", "code": "no_ack"}

    async def first_frame(socket) -> None:
        if socket is None:
            return
        ack = await request(socket, "ping", {})
        if ack.get("status") != "ok":
            code = ack.get("code", "?")
            tally.first_frame_refused[code] = tally.first_frame_refused.get(code, 0) + 1

    await asyncio.gather(*(first_frame(socket) for socket in sockets))
    refused = tally.first_frame_refused or "none"
    print(f"[{target.name}] first frames: refused {refused}", flush=True)

    async def sender(index: int, team: Team) -> None:
        socket = socket_of[team.sender]
        if socket is None:
            return
        begin = time.perf_counter() + random.random()
        n = 0
        while True:
            at = begin + n
            if at - begin >= duration:
                return
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            key = f"{index}.{n}"
            n += 1
            recipients_of_key[key] = recipients_of[team.sender]
            tally.expected += recipients_of[team.sender]
            tally.sent += 1
            sent_at = time.perf_counter()
            tally.first_send = tally.first_send or sent_at
            tally.last_send = sent_at
            body = f"load|{key}|{sent_at!r}"
            ack = await request(socket, "message", target.message(team, body))
            if ack.get("status") == "ok":
                tally.acked += 1
                tally.missing[key] = recipients_of[team.sender] - seen.get(key, 0)
                tally.ack_latencies.append(time.perf_counter() - sent_at)
            else:
                code = ack.get("code", "?")
                tally.refused[code] = tally.refused.get(code, 0) + 1

    async def progress() -> None:
        began = time.perf_counter()
        while True:
            await asyncio.sleep(2)
            recent = tally.latencies[-500:]
            print(
                f"[{target.name}] t={time.perf_counter() - began:4.0f}s sent={tally.sent}"
                f" acked={tally.acked} delivered={tally.delivered}/{tally.expected}"
                f" p50={percentile(recent, 0.5):.1f}ms p99={percentile(recent, 0.99):.1f}ms"
                f" refused={tally.refused or 0}",
                flush=True,
            )

    reporter = asyncio.create_task(progress())
    await asyncio.gather(*(sender(index, team) for index, team in enumerate(teams)))
    deadline = time.perf_counter() + DRAIN_SECONDS
    while tally.delivered < tally.expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    reporter.cancel()
    for socket in sockets:
        if socket is not None:
            await socket.close()
    for reader in readers:
        reader.cancel()
    return tally


def summarize(tally: Tally) -> dict[str, Any]:
    return {
        "connect_failed": tally.connect_failed,
        "first_frame_refused": tally.first_frame_refused,
        "sent": tally.sent,
        # A sender's next message is due a second after the previous one, once
        # that one is acked: when acks come slower, the offered rate falls.
        "rate_per_s": round(tally.sent / max(1.0, tally.last_send - tally.first_send + 1), 1),
        "sending_s": round(tally.last_send - tally.first_send, 1),
        "acked": tally.acked,
        "refused": tally.refused,
        "expected_deliveries": tally.expected,
        "delivered": tally.delivered,
        "lost": tally.expected - tally.delivered,
        # What matters most: deliveries missing for messages the server acked.
        "lost_acked": sum(max(0, left) for left in tally.missing.values()),
        "duplicates": tally.duplicates,
        "deliver_p50_ms": round(percentile(tally.latencies, 0.5), 2),
        "deliver_p99_ms": round(percentile(tally.latencies, 0.99), 2),
        "ack_p50_ms": round(percentile(tally.ack_latencies, 0.5), 2),
        "ack_p99_ms": round(percentile(tally.ack_latencies, 0.99), 2),
    }


# --- the floor: a bare relay ---------------------------------------------------


def serve_floor(port: int) -> None:
    """asyncio websockets; per message one INSERT + commit, one Redis write, the pushes."""
    import psycopg
    import redis.asyncio as aioredis
    from websockets.asyncio.server import serve

    dsn = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")

    async def main() -> None:
        pool: asyncio.Queue = asyncio.Queue()
        for _ in range(10):
            pool.put_nowait(await psycopg.AsyncConnection.connect(dsn))
        connection = await pool.get()
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS floor_messages (id uuid primary key, body text)"
        )
        await connection.commit()
        pool.put_nowait(connection)
        cache = aioredis.from_url(os.environ["REDIS_URL"])
        sockets: dict[str, Any] = {}

        async def handler(socket) -> None:
            user = socket.request.path.split("user=", 1)[1]
            sockets[user] = socket
            try:
                async for raw in socket:
                    frame = json.loads(raw)
                    ack = {"type": "ack", "requestId": frame.get("requestId"), "status": "ok"}
                    if frame.get("action") == "message":
                        data = frame["data"]
                        message_id = uuid.uuid4()
                        connection = await pool.get()
                        try:
                            await connection.execute(
                                "INSERT INTO floor_messages (id, body) VALUES (%s, %s)",
                                (message_id, data["body"]),
                            )
                            await connection.commit()
                        finally:
                            pool.put_nowait(connection)
                        await cache.set(f"floor:{message_id}", data["body"], ex=600)
                        out = json.dumps({"type": "message", "data": {"body": data["body"]}})
                        for recipient in data["to"]:
                            if recipient in sockets:
                                await sockets[recipient].send(out)
                    await socket.send(json.dumps(ack))
            finally:
                sockets.pop(user, None)

        async with serve(handler, "127.0.0.1", port, max_size=None, ping_interval=None):
            await asyncio.Future()

    asyncio.run(main())


# --- stack, processes --------------------------------------------------------------


def wait_listening(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    """Until the floor accepts connections (it starts slowly on a busy machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the floor exited with {process.returncode}")
        with contextlib.suppress(OSError), create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.2)
    raise SystemExit("the floor did not start listening")


def wait_healthy(base_url: str, process: subprocess.Popen | None, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the gateway exited with {process.returncode}")
        try:
            # One request at a time, waited for: the first ones start environments.
            with urllib.request.urlopen(f"{base_url}/api/health", timeout=60) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit(f"{base_url} did not become healthy")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def without_rate_limits(measure):
    """The direct calls flood one user on purpose; the stack keeps its limits."""
    from parley.config import get_settings

    saved = {name: os.environ.get(name) for name in ("RATE_LIMIT_MESSAGES", "RATE_LIMIT_ACTIONS")}
    os.environ.update({name: "100000000" for name in saved})
    get_settings.cache_clear()
    try:
        return measure()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def machine() -> str:
    cpu = "?"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} vCPU ({cpu}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}; load average at start {load:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--clients", type=int, default=100)
    parser.add_argument("--group-size", type=int, default=2, help="2: pairs (direct chats)")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of sending")
    parser.add_argument("--url", help="a running stack (default: start one)")
    parser.add_argument("--warm", type=int, default=300, help="direct handler calls (0: skip)")
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--out", help="also write the results (JSON) to this file")
    parser.add_argument("--gateway-log", help="where the started stack logs (default: discarded)")
    parser.add_argument(
        "--warm-up", type=int, default=6,
        help="teams that connect, send and leave first, starting environments (0: none)",
    )  # fmt: skip
    parser.add_argument("--in-process", action="store_true", help="`parley-dev up --in-process`")
    parser.add_argument(
        "--provisioned", type=int, default=0, help="`parley-dev up --provisioned N`"
    )
    parser.add_argument("--only-warm", action="store_true", help="measure the direct calls only")
    parser.add_argument("--serve-floor", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor:
        serve_floor(args.serve_floor)
        return
    if args.group_size < 2 or args.clients < args.group_size:
        parser.error("needs --group-size >= 2 and at least one group of clients")

    from parley_dev.localenv import apply_local_defaults
    from parley_dev.services import free_port, start_services

    apply_local_defaults()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.getLogger("parley").setLevel(logging.WARNING)
    results: dict[str, Any] = {
        "machine": machine(),
        "clients": args.clients,
        "group_size": args.group_size,
        "duration_s": args.duration,
    }
    with tempfile.TemporaryDirectory() as data_dir:
        services = None
        gateway = None
        floor = None
        try:
            if args.url:
                base_url = args.url.rstrip("/")
            else:
                services = start_services(Path(data_dir))
                os.environ.update(services.env())
                os.environ.setdefault("JWT_SECRET", uuid.uuid4().hex * 2)
                from parley.db.migrate import upgrade
                from parley.events.kafka import ensure_topics

                upgrade()
                ensure_topics()
            if args.warm:
                from benchmarks.realtime_bench import warm

                print(f"[warm] {args.warm} direct calls of the message handler", flush=True)
                with contextlib.redirect_stdout(io.StringIO()):  # the handler's EMF metrics
                    measured = without_rate_limits(lambda: warm(args.warm))
                handler, floor_ = measured["message"], measured["baseline"]
                measured["ratio_p50"] = handler["p50_ms"] / floor_["p50_ms"]
                results["warm"] = measured
                print(f"[warm] {json.dumps(measured)}", flush=True)
            if args.only_warm:
                print(json.dumps(results, indent=2))
                return
            if not args.url:
                port = free_port()
                base_url = f"http://127.0.0.1:{port}"
                log_path = Path(args.gateway_log or Path(data_dir) / "gateway.log")
                gateway_log = open(log_path, "w")  # noqa: SIM115
                gateway = subprocess.Popen(
                    [str(ROOT / ".venv" / "bin" / "parley-dev"), "up", "--port", str(port),
                     "--data-dir", str(Path(data_dir) / "up"),
                     "--provisioned", str(args.provisioned),
                     *(["--in-process"] if args.in_process else [])],
                    env=os.environ.copy(), stdout=gateway_log, stderr=subprocess.STDOUT,
                )  # fmt: skip
                print(f"[stack] parley-dev up on {base_url} (log: {gateway_log.name})", flush=True)
                wait_healthy(base_url, gateway)
            teams = seed(args.clients, args.group_size)
            if not args.skip_floor:
                floor_port = free_port()
                floor = subprocess.Popen(
                    [sys.executable, __file__, "--serve-floor", str(floor_port)],
                    env=os.environ.copy(),
                )
                wait_listening(floor_port, floor)
                tally = asyncio.run(run_load(Floor(floor_port), teams, args.duration))
                results["floor"] = summarize(tally)
                print(f"[floor] {json.dumps(results['floor'])}", flush=True)
                stop(floor)
                floor = None
            if args.warm_up:
                spare = seed(args.warm_up * args.group_size, args.group_size)
                asyncio.run(warm_up(Parley(base_url), spare))
            tally = asyncio.run(run_load(Parley(base_url), teams, args.duration))
            results["parley"] = summarize(tally)
            print(f"[parley] {json.dumps(results['parley'])}", flush=True)
            if tally.connect_failed and gateway is not None:
                tail = log_path.read_text().splitlines()[-40:]
                print("[stack] the gateway's log ends with:\n" + "\n".join(tail), flush=True)
        finally:
            for process in (floor, gateway):
                if process is not None:
                    stop(process)
            if services is not None:
                services.stop()
    if "floor" in results:
        floor_p99 = results["floor"]["deliver_p99_ms"]
        results["p99_over_floor"] = round(results["parley"]["deliver_p99_ms"] / floor_p99, 1)
    report(results, args.out)


if __name__ == "__main__":
    main()
