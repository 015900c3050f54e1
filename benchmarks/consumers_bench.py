"""What a batch of records costs each Kafka consumer function: wall and CPU time.

The consumers' handlers are called in this process, as Lambda calls them,
with the Kafka event payload of 100 records, against the embedded services
(PostgreSQL, Redis, broker). Two batches, as a busy chat backend sends them:

  - `delivered`: the 100 `message.delivered` of one 100-member group's message
    (analytics and audit consume them);
  - `created`: 100 `message.created` of direct chats whose recipient is online
    (analytics, audit and notifications consume them).

Every record is new (no duplicate), and the CPU time is the process's (user +
system), which a busy machine inflates least. The code measured is the one
the interpreter imports: run this script with another checkout's `.venv`
for before/after runs in one sitting.

    .venv/bin/python benchmarks/consumers_bench.py [--batches 20]
    ../before/.venv/bin/python benchmarks/consumers_bench.py
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RECORDS = 100
CONSUMERS = {
    "delivered": ("analytics", "audit"),
    "created": ("analytics", "audit", "notifications"),
}


class Record:
    """A consumed Kafka record, as confluent-kafka hands it over."""

    def __init__(self, topic: str, offset: int, key: str, value: dict[str, Any]) -> None:
        self._topic, self._offset = topic, offset
        self._key, self._value = key.encode(), json.dumps(value).encode()

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes:
        return self._value

    def headers(self) -> list:
        return []

    def timestamp(self) -> tuple[int, int]:
        return (1, int(time.time() * 1000))


class Batches:
    """Fresh batches of each kind (new event ids every time)."""

    def __init__(self) -> None:
        self.offset = 0
        self.group = uuid.uuid4()
        self.members = [uuid.uuid4() for _ in range(RECORDS)]
        self.pairs = [(uuid.uuid4(), uuid.uuid4(), uuid.uuid4()) for _ in range(RECORDS)]

    def _record(self, event_type: str, key: uuid.UUID, data: dict[str, Any]) -> Record:
        self.offset += 1
        now = datetime.now(UTC).isoformat()
        envelope = {
            "id": str(uuid.uuid4()),
            "type": event_type,
            "version": 1,
            "occurredAt": now,
            "source": "parley",
            "key": str(key),
            "data": data,
        }
        return Record(event_type, self.offset, str(key), envelope)

    def delivered(self) -> list[Record]:
        message, now = uuid.uuid4(), datetime.now(UTC).isoformat()
        return [
            self._record(
                "message.delivered",
                self.group,
                {
                    "messageId": str(message),
                    "chatId": str(self.group),
                    "userId": str(member),
                    "seq": 1,
                    "at": now,
                },
            )
            for member in self.members
        ]

    def created(self) -> list[Record]:
        now = datetime.now(UTC).isoformat()
        return [
            self._record(
                "message.created",
                chat,
                {
                    "id": str(uuid.uuid4()),
                    "chatId": str(chat),
                    "seq": 1,
                    "senderId": str(sender),
                    "body": "hello",
                    "createdAt": now,
                    "isForwarded": False,
                    "recipientIds": [str(recipient)],
                    "fanOut": "inline",
                },
            )
            for chat, sender, recipient in self.pairs
        ]


def measure(batches: int) -> dict[str, Any]:
    from parley.events.eventsource import kafka_event
    from parley.stores import connections
    from parley_dev.cli import lambda_context

    source = Batches()
    for _chat, _sender, recipient in source.pairs:  # every recipient online
        connections.add(connections.Connection(f"c-{recipient.hex}", recipient, time.time()))
    results: dict[str, Any] = {}
    for kind, names in CONSUMERS.items():
        for name in names:
            handler = importlib.import_module(f"parley.events.consumers.{name}").handler
            context = lambda_context(name)
            walls, cpus = [], []
            with contextlib.redirect_stdout(io.StringIO()):  # the handlers' EMF metrics
                for index in range(batches + 3):
                    event = kafka_event(getattr(source, kind)())
                    wall, cpu = time.perf_counter(), time.process_time()
                    outcome = handler(event, context)
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    assert outcome["processed"] == RECORDS, outcome
                    if index >= 3:  # warm-up
                        walls.append(wall)
                        cpus.append(cpu)
            walls.sort()
            cpus.sort()
            results[f"{name} / {kind}"] = {
                "wall_p50_ms": round(walls[len(walls) // 2] * 1000, 1),
                "cpu_p50_ms": round(cpus[len(cpus) // 2] * 1000, 1),
            }
            print(f"[consumers] {name} / {kind}: {results[f'{name} / {kind}']}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=20, help="batches of 100 per consumer")
    parser.add_argument("--out", help="also write the results (JSON) to this file")
    args = parser.parse_args()
    # The interpreter's own parley first: load_bench puts this checkout's on the path.
    import parley
    import parley_dev  # noqa: F401

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from harness import flooding_environment, local_stack, report
    from load_bench import machine

    flooding_environment()
    code = str(Path(parley.__file__).parents[3])
    with local_stack():
        results = {"machine": machine(), "code": code, "per_batch": measure(args.batches)}
    report(results, args.out)


if __name__ == "__main__":
    main()
