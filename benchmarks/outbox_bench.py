"""Outbox figures: relay throughput from a backlog, and what the outbox adds to a write.

    .venv/bin/python benchmarks/outbox_bench.py [--backlog 100000] [--writes 500]

Starts its own embedded PostgreSQL and broker (unless the usual variables
point at servers), migrates, creates the topics, then:

1. bulk-inserts a backlog of outbox rows (message.created-like payloads over
   1,000 chat keys) and times one relay run draining it;
2. times a message-like write (one INSERT and a commit) alone, and the same
   write with `emit` and the publish that follows its commit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "parley"), str(ROOT / "infra")]


def _message(chat_id: str) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "chatId": chat_id,
        "seq": 1,
        "senderId": str(uuid.uuid4()),
        "body": "x" * 80,
        "createdAt": datetime.now(UTC).isoformat(),
        "recipientIds": [str(uuid.uuid4())],
    }


def bulk_backlog(count: int) -> None:
    from parley.db import get_engine

    chats = [str(uuid.uuid4()) for _ in range(1000)]
    raw = get_engine().raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy("COPY outbox (event_id, topic, key, payload) FROM STDIN") as copy:
            for index in range(count):
                chat = chats[index % len(chats)]
                event_id = str(uuid.uuid4())
                payload = {
                    "id": event_id,
                    "type": "message.created",
                    "version": 1,
                    "occurredAt": datetime.now(UTC).isoformat(),
                    "source": "bench",
                    "key": chat,
                    "data": _message(chat),
                }
                copy.write_row((event_id, "message.created", chat, json.dumps(payload)))
        raw.commit()
    finally:
        raw.close()


def relay_throughput(count: int) -> float:
    from parley.events.relay import relay

    bulk_backlog(count)
    started = time.perf_counter()
    result = relay(max_seconds=600)
    elapsed = time.perf_counter() - started
    assert result.remaining == 0 and result.published == count, result
    return count / elapsed


def write_cost(writes: int) -> tuple[float, float]:
    """Median ms of a message-like insert+commit without and with emit+publish."""
    from sqlalchemy import text

    from parley.db import session_scope
    from parley.events import catalog, emit

    insert = text(
        "INSERT INTO audit_log (event_id, event_type, key, source, occurred_at, data) "
        "VALUES (:id, 'bench', :key, 'bench', now(), CAST(:data AS jsonb))"
    )

    def once(with_outbox: bool) -> float:
        chat = str(uuid.uuid4())
        data = _message(chat)
        started = time.perf_counter()
        with session_scope() as session:
            session.execute(insert, {"id": uuid.uuid4(), "key": chat, "data": json.dumps(data)})
            if with_outbox:
                emit(session, catalog.MESSAGE_CREATED, chat, data)
        return (time.perf_counter() - started) * 1000

    for _ in range(50):  # warm the pool and the producer
        once(True)
    plain = [once(False) for _ in range(writes)]
    outboxed = [once(True) for _ in range(writes)]
    return statistics.median(plain), statistics.median(outboxed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=500)
    args = parser.parse_args()

    from parley_dev.localenv import apply_local_defaults
    from parley_dev.services import running_services

    apply_local_defaults()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    with tempfile.TemporaryDirectory() as data_dir, running_services(Path(data_dir)) as services:
        os.environ.update(services.env())
        from parley.config import get_settings
        from parley.db.migrate import upgrade
        from parley.events.kafka import ensure_topics

        get_settings.cache_clear()
        upgrade()
        ensure_topics()
        throughput = relay_throughput(args.backlog)
        plain_ms, outboxed_ms = write_cost(args.writes)
    print(f"relay: {args.backlog} rows drained at {throughput:,.0f} events/s")
    print(
        f"write: {plain_ms:.2f} ms alone, {outboxed_ms:.2f} ms with emit + publish "
        f"(x{outboxed_ms / plain_ms:.2f}, +{outboxed_ms - plain_ms:.2f} ms), "
        f"median of {args.writes}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
