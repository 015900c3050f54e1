"""REST API latency through the Lambda handler (Mangum + FastAPI), as API Gateway invokes it.

Seeds one user with 200 chats and 10,000 messages using bulk SQL, then times
login (Argon2id verification included), GET /chats and one history page of 50.

    .venv/bin/python benchmarks/rest_bench.py [--rounds N]

Uses DATABASE_URL / REDIS_URL / KAFKA_BOOTSTRAP_SERVERS when set, embedded
services in .parley/bench otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "parley"), str(ROOT / "infra"), str(ROOT)]

CHATS = 200
MESSAGES = 10_000
# The chat whose history is read holds a quarter of the messages.
HISTORY_CHAT_MESSAGES = 2_500
PASSWORD = "benchmark password"


def seed(session_factory) -> tuple[str, str]:
    """One user, 200 direct chats with 200 others, 10k messages with receipts."""
    from sqlalchemy import text

    from parley.auth.passwords import hash_password

    password_hash = hash_password(PASSWORD)
    me = uuid.uuid4()
    others = [uuid.uuid4() for _ in range(CHATS)]
    chats = [uuid.uuid4() for _ in range(CHATS)]
    rest = MESSAGES - HISTORY_CHAT_MESSAGES
    per_chat = [HISTORY_CHAT_MESSAGES] + [
        rest // (CHATS - 1) + (1 if i < rest % (CHATS - 1) else 0) for i in range(CHATS - 1)
    ]
    with session_factory() as session:
        session.execute(
            text("INSERT INTO users (id, username, password_hash) VALUES (:id, :u, :h)"),
            [{"id": me, "u": "bench", "h": password_hash}]
            + [{"id": o, "u": f"peer{i:03d}", "h": password_hash} for i, o in enumerate(others)],
        )
        session.execute(
            text(
                "INSERT INTO chats (id, type, direct_key, created_by, last_seq, last_message_at,"
                " created_at) VALUES (:id, 'direct', :key, :me, :n,"
                " now() - make_interval(secs => :age), now() - interval '30 days')"
            ),
            [
                {
                    "id": chat,
                    "key": ":".join(sorted((str(me), str(other)))),
                    "me": me,
                    "n": count,
                    "age": index * 60,
                }
                for index, (chat, other, count) in enumerate(
                    zip(chats, others, per_chat, strict=True)
                )
            ],
        )
        session.execute(
            text("INSERT INTO chat_members (chat_id, user_id, role) VALUES (:c, :u, 'member')"),
            [{"c": c, "u": u} for c, o in zip(chats, others, strict=True) for u in (me, o)],
        )
        for chat, other, count in zip(chats, others, per_chat, strict=True):
            # Messages alternate between the two members; each has one receipt
            # for the other member, the older ones read, the last ten not.
            session.execute(
                text(
                    "INSERT INTO messages (id, chat_id, seq, sender_id, body, created_at)"
                    " SELECT gen_random_uuid(), :chat, s,"
                    "  CASE WHEN s % 2 = 0 THEN CAST(:me AS uuid) ELSE CAST(:other AS uuid) END,"
                    "  'message number ' || s, now() - make_interval(secs => :n - s)"
                    " FROM generate_series(1, :n) AS s"
                ),
                {"chat": chat, "me": me, "other": other, "n": count},
            )
            session.execute(
                text(
                    "INSERT INTO receipts (message_id, user_id, chat_id, seq, status)"
                    " SELECT m.id,"
                    "  CASE WHEN m.sender_id = CAST(:me AS uuid)"
                    "   THEN CAST(:other AS uuid) ELSE CAST(:me AS uuid) END,"
                    "  m.chat_id, m.seq, CASE WHEN m.seq > :n - 10 THEN 1 ELSE 3 END"
                    " FROM messages m WHERE m.chat_id = :chat"
                ),
                {"chat": chat, "me": me, "other": other, "n": count},
            )
        session.commit()
        session.execute(text("ANALYZE"))
    return str(me), str(chats[0])


def timed(call, rounds: int) -> dict[str, float]:
    call()  # warm: imports, connection pool, prepared plans
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "n": rounds,
        "p50": statistics.median(samples),
        "p99": samples[min(len(samples) - 1, round(0.99 * (len(samples) - 1)))],
        "max": samples[-1],
    }


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} vCPU, Python {platform.python_version()}, {platform.system()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--login-rounds", type=int, default=30)
    args = parser.parse_args()

    from parley_dev.localenv import apply_local_defaults
    from parley_dev.services import running_services

    apply_local_defaults()
    # The benchmark logs in repeatedly from one address on purpose.
    os.environ["RATE_LIMIT_AUTH"] = "1000000"
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    data_dir = ROOT / ".parley" / "bench"
    shutil.rmtree(data_dir, ignore_errors=True)
    with running_services(data_dir) as services:
        os.environ.update(services.env())
        from sqlalchemy.orm import sessionmaker

        from parley.db import get_engine
        from parley.db.migrate import upgrade

        upgrade()
        started = time.perf_counter()
        _, history_chat = seed(sessionmaker(get_engine()))
        seed_seconds = time.perf_counter() - started

        from parley.auth.passwords import parameters
        from parley_dev.cli import lambda_context, load_function
        from tests.rest.conftest import http_event

        handler = load_function("rest")
        context = lambda_context("rest", timeout_seconds=3600)

        def invoke(event: dict) -> dict:
            response = handler(event, context)
            assert response["statusCode"] == 200, response
            return json.loads(response["body"])

        login_body = {"username": "bench", "password": PASSWORD}
        token = invoke(http_event("POST", "/api/auth/login", body=login_body))["accessToken"]
        chats_event = http_event("GET", "/api/chats", token=token)
        history_event = http_event(
            "GET", f"/api/chats/{history_chat}/messages", query={"limit": 50}, token=token
        )
        listed = invoke(chats_event)["chats"]
        page = invoke(history_event)
        assert len(listed) == CHATS and len(page["messages"]) == 50

        results = {
            "POST /auth/login": timed(
                lambda: invoke(http_event("POST", "/api/auth/login", body=login_body)),
                args.login_rounds,
            ),
            f"GET /chats ({CHATS} chats)": timed(lambda: invoke(chats_event), args.rounds),
            "GET /chats/{id}/messages (limit 50)": timed(
                lambda: invoke(history_event), args.rounds
            ),
        }

    print(f"machine: {machine()}")
    print(f"argon2: {parameters()}")
    print(f"seed: {CHATS} chats, {MESSAGES} messages + receipts in {seed_seconds:.1f} s")
    print(f"{'operation':<40} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, figures in results.items():
        print(
            f"{name:<40} {figures['n']:>5} {figures['p50']:>8.1f} {figures['p99']:>8.1f}"
            f" {figures['max']:>8.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
