"""Real-time handlers: warm latency, cold imports, and a 100-member fan-out.

Three figures, on embedded PostgreSQL and Redis (started here, in a
temporary directory):
  - warm:    the `message` handler invoked directly (real event, real
             database and Redis; @connections replaced by a no-op client so
             the network is not measured), against a bare PostgreSQL
             insert + commit plus one Redis command in the same run;
  - cold:    `python -X importtime` loading each functions/<name>/app.py in a
             fresh interpreter (sum of the modules' self times);
  - fan-out: one message to a 100-member group through the dev gateway
             (template.yaml, real sockets): send -> ack, and send -> the
             frame reached all 99 other members.

    .venv/bin/python benchmarks/realtime_bench.py [-n 500] [--members 100] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "parley"), str(ROOT / "infra"), str(ROOT)]
os.chdir(ROOT)

from harness import flooding_environment, local_stack, report, summary, timed  # noqa: E402

FUNCTIONS = [
    "connect", "disconnect", "default", "message", "read", "delivered", "pin", "unpin",
    "forward", "edit", "delete", "chat_join", "chat_leave", "typing", "users_list", "ping",
]  # fmt: skip


def seed(members: int) -> tuple[list[uuid.UUID], uuid.UUID]:
    from parley.db.models import Chat, ChatMember, ChatType, User
    from parley.db.session import session_scope

    users = [uuid.uuid4() for _ in range(members)]
    chat = uuid.uuid4()
    with session_scope() as session:
        session.add_all(
            User(id=user, username=f"u{user.hex[:12]}", password_hash="x") for user in users
        )
        session.add(Chat(id=chat, type=ChatType.GROUP.value, title="bench"))
        session.flush()
        session.add_all(ChatMember(chat_id=chat, user_id=user) for user in users)
    return users, chat


class NoopConnections:
    def post_to_connection(self, **_kwargs: object) -> dict:
        return {}


def direct_message_handler() -> tuple[Any, dict, uuid.UUID, uuid.UUID]:
    """The `message` handler, a pair of connected users in a chat, and the sender's
    event to fill in; @connections replaced by a no-op client (no network measured)."""
    import parley.push
    from parley.stores import connections
    from parley_dev.cli import load_function

    parley.push.management_client = lambda endpoint: NoopConnections()
    (sender, recipient), chat = seed(2)
    for user in (sender, recipient):
        connections.add(connections.Connection(f"conn-{user.hex[:8]}=", user, time.time()))
    handler = load_function("message")
    event = json.loads((ROOT / "tests" / "events" / "ws_message.json").read_text())
    event["requestContext"]["connectionId"] = f"conn-{sender.hex[:8]}="
    return handler, event, sender, chat


def warm(n: int) -> dict[str, dict[str, float]]:
    from sqlalchemy import text

    import parley.push
    from parley.db.session import get_engine
    from parley.stores.client import get_redis
    from parley_dev.cli import lambda_context

    real_client = parley.push.management_client
    handler, event, _sender, chat = direct_message_handler()

    def send(index: int) -> None:
        frame = {"action": "message", "requestId": str(index),
                 "data": {"chatId": str(chat), "body": f"message {index}"}}  # fmt: skip
        event["body"] = json.dumps(frame)
        response = handler(event, lambda_context("message"))
        assert '"status": "ok"' in response["body"], response

    with get_engine().begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS bench_rows (id uuid, body text)"))
    redis = get_redis()

    def baseline(index: int) -> None:
        with get_engine().begin() as connection:
            connection.execute(
                text("INSERT INTO bench_rows VALUES (:id, :body)"),
                {"id": uuid.uuid4(), "body": f"message {index}"},
            )
        redis.incr("bench:counter")

    results = {
        name: timed(n, step, warmup=50)
        for name, step in (("baseline", baseline), ("message", send))
    }
    parley.push.management_client = real_client
    return results


def cold() -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "parley")])}
    totals = {}
    for name in FUNCTIONS:
        code = (
            "import importlib.util as u;"
            f"s = u.spec_from_file_location('app', 'functions/{name}/app.py');"
            "s.loader.exec_module(u.module_from_spec(s))"
        )
        completed = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            capture_output=True, text=True, env=env, cwd=ROOT, check=True,
        )  # fmt: skip
        self_us = 0
        for line in completed.stderr.splitlines():
            if line.startswith("import time:") and "|" in line:
                field = line.split(":", 1)[1].split("|")[0].strip()
                if field.isdigit():
                    self_us += int(field)
        totals[name] = self_us / 1000
    return totals


async def fan_out(members: int, rounds: int) -> dict[str, dict[str, float]]:
    from websockets.asyncio.client import connect

    from parley.auth.tokens import issue_token
    from parley_dev.gateway import GatewayOptions, GatewayServer, create_app

    users, chat = seed(members)
    options = GatewayOptions(run_event_sources=False, run_schedules=False)
    with GatewayServer(create_app(ROOT / "template.yaml", options=options)) as server:
        url = server.ws_url("ws")
        sockets = [
            # Unbounded queues: presence frames pile up while the others connect.
            await connect(f"{url}?token={issue_token(user)[0]}", max_size=None, max_queue=None)
            for user in users
        ]
        for socket in sockets:  # the first frame: catch-up done, connection warm
            await socket.send(json.dumps({"action": "ping", "requestId": "p"}))
            await socket.recv()
        sender, others = sockets[0], sockets[1:]

        async def received(socket, message_id_box: dict) -> None:
            while True:
                frame = json.loads(await socket.recv())
                if frame.get("type") == "message" and frame["data"]["body"] == message_id_box["b"]:
                    return

        acks, everyone = [], []
        for index in range(rounds + 3):
            box = {"b": f"fan-out {index}"}
            waiters = [asyncio.create_task(received(socket, box)) for socket in others]
            started = time.perf_counter()
            frame = {"action": "message", "requestId": str(index),
                     "data": {"chatId": str(chat), "body": box["b"]}}  # fmt: skip
            await sender.send(json.dumps(frame))
            while True:
                frame = json.loads(await asyncio.wait_for(sender.recv(), 30))
                if frame.get("type") == "ack":
                    break
            acked = time.perf_counter() - started
            await asyncio.wait_for(asyncio.gather(*waiters), 30)
            reached = time.perf_counter() - started
            if index >= 3:  # warm-up rounds
                acks.append(acked)
                everyone.append(reached)
        for socket in sockets:
            await socket.close()
    return {"ack": summary(acks), "all_received": summary(everyone)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--out", help="also write the results (JSON) to this file")
    args = parser.parse_args()

    flooding_environment()
    os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "Parley"
    with local_stack(topics=False):
        import logging
        import warnings

        warnings.simplefilter("ignore")
        logging.getLogger("parley").setLevel(logging.WARNING)
        results = {
            "machine": f"{os.cpu_count()} vCPU, Python {platform.python_version()}",
            "warm": warm(args.n),
            "cold_import_ms": cold(),
            "fan_out": asyncio.run(fan_out(args.members, args.rounds)),
        }
    warm_ = results["warm"]
    results["warm"]["ratio"] = {
        "p50": warm_["message"]["p50_ms"] / warm_["baseline"]["p50_ms"],
        "p99": warm_["message"]["p99_ms"] / warm_["baseline"]["p99_ms"],
    }
    report(results, args.out)


if __name__ == "__main__":
    main()
