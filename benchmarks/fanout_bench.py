"""A big group's message: send -> ack, and send -> every recipient holds the frame.

The stack runs as `make run` serves it (`parley-dev up` in a process of its
own: execution environments, Kafka event sources, the `fanout` function);
the group's clients run here, in this process. A group of N members is
seeded in PostgreSQL; every member connects and sends its first frame; then
the first member sends one message per round and the script measures when
its ack came and when the last of the N-1 others received it.

    .venv/bin/python benchmarks/fanout_bench.py --members 100 --rounds 20
    .venv/bin/python benchmarks/fanout_bench.py --members 1000 --rounds 10
    # the same with the pushes left in the sending invocation:
    .venv/bin/python benchmarks/fanout_bench.py --members 1000 --inline-max 100000

`--parley-dev PATH` runs another checkout's gateway (for before/after runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "parley"), str(ROOT / "infra"), str(ROOT / "benchmarks")]

from harness import flooding_environment, report, summary  # noqa: E402
from load_bench import machine, seed, stop, wait_healthy  # noqa: E402


async def measure(base_url: str, team, rounds: int) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    from parley.auth.tokens import issue_token

    ws = base_url.replace("http://", "ws://") + "/ws"
    members = [team.sender, *team.recipients]
    arrivals: dict[str, list[float]] = {}
    started = time.perf_counter()

    async def open_one(user):
        # Unbounded queues: frames pile up while the others connect.
        socket = await connect(
            f"{ws}?token={issue_token(user)[0]}", max_size=None, max_queue=None, open_timeout=120
        )
        await socket.send(json.dumps({"action": "ping", "requestId": "first"}))
        while json.loads(await socket.recv()).get("requestId") != "first":
            pass
        return socket

    sockets = []
    for start in range(0, len(members), 50):  # 50 at a time: a crowd, not a stampede
        sockets += await asyncio.gather(*(open_one(u) for u in members[start : start + 50]))
    connected_s = time.perf_counter() - started
    print(f"[fan-out] {len(sockets)} members connected in {connected_s:.1f} s", flush=True)
    sender, others = sockets[0], sockets[1:]

    async def read(socket) -> None:
        async for raw in socket:
            frame = json.loads(raw)
            if frame.get("type") == "message":
                arrivals.setdefault(frame["data"]["body"], []).append(time.perf_counter())

    readers = [asyncio.create_task(read(socket)) for socket in others]
    acks, first, everyone, complete = [], [], [], 0
    for index in range(rounds + 2):  # two warm-up rounds
        body = f"fan-out {index}"
        sent_at = time.perf_counter()
        frame = {"chatId": str(team.chat_id), "body": body}
        await sender.send(json.dumps({"action": "message", "requestId": str(index), "data": frame}))
        while True:
            frame = json.loads(await asyncio.wait_for(sender.recv(), 60))
            if frame.get("type") == "ack" and frame.get("requestId") == str(index):
                break
        acked = time.perf_counter() - sent_at
        deadline = time.perf_counter() + 30
        while len(arrivals.get(body, [])) < len(others) and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        got = arrivals.get(body, [])
        if index >= 2:
            acks.append(acked)
            if got:
                first.append(min(got) - sent_at)
            if len(got) == len(others):
                complete += 1
                everyone.append(max(got) - sent_at)
        await asyncio.sleep(0.5)
    for task in readers:
        task.cancel()
    for socket in sockets:
        await socket.close()
    return {
        "members": len(members),
        "rounds": rounds,
        "connect_all_s": round(connected_s, 1),
        "ack": summary(acks),
        "first_received": summary(first) if first else None,
        "all_received": summary(everyone) if everyone else None,
        "rounds_complete": complete,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--inline-max", type=int, help="FAN_OUT_INLINE_MAX_RECIPIENTS")
    parser.add_argument("--parley-dev", default=str(ROOT / ".venv" / "bin" / "parley-dev"))
    parser.add_argument("--out", help="also write the results (JSON) to this file")
    parser.add_argument("--gateway-log", help="keep the gateway's log in this file")
    args = parser.parse_args()

    flooding_environment()
    if args.inline_max is not None:
        os.environ["FAN_OUT_INLINE_MAX_RECIPIENTS"] = str(args.inline_max)
    os.environ["GROUP_MAX_MEMBERS"] = str(max(args.members, 1024))
    from parley_dev.services import free_port, start_services

    results: dict[str, Any] = {"machine": machine(), "gateway": args.parley_dev}
    with tempfile.TemporaryDirectory() as data_dir:
        services = start_services(Path(data_dir))
        gateway = None
        try:
            os.environ.update(services.env())
            os.environ.setdefault("JWT_SECRET", os.urandom(32).hex())
            from parley.db.migrate import upgrade
            from parley.events.kafka import ensure_topics

            upgrade()
            ensure_topics()
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            log = open(args.gateway_log or Path(data_dir) / "gateway.log", "w")  # noqa: SIM115
            gateway = subprocess.Popen(
                [args.parley_dev, "up", "--port", str(port), "--data-dir", f"{data_dir}/up",
                 "--provisioned", "1"],
                env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
            wait_healthy(base_url, gateway)
            (team,) = seed(args.members, args.members)
            results["fan_out"] = asyncio.run(measure(base_url, team, args.rounds))
        finally:
            if gateway is not None:
                stop(gateway)
            services.stop()
    report(results, args.out)


if __name__ == "__main__":
    main()
