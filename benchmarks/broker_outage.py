"""Broker outage against a running stack: how long until every event is on its topic.

Against `make run` (or any stack whose broker runs on this machine):

    .venv/bin/python benchmarks/broker_outage.py --url http://127.0.0.1:8015 \
        --bootstrap 127.0.0.1:PORT --outage pause --seconds 20

It registers two users, opens a WebSocket for one, and sends a message every
0.6 s for the whole run (under the 20 per 10 s rate limit). After 5 s it
stops the broker (SIGSTOP to every process listening on the bootstrap port,
or SIGKILL and a new broker on the same port with `--outage kill`) for
`--seconds`, then lets it run again, and keeps sending for 5 s more. A
consumer reads `message.created` from the start; the report gives, for the
messages acknowledged, how many reached the topic, how many did so more than
once, and the seconds from the broker's return until the last one arrived.

With `--outage kill` the new broker is not the stack's child: it outlives
`make run`; its pid is printed, stop it afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from confluent_kafka import Consumer
from websockets.sync.client import connect


def listeners_of(port: int) -> list[int]:
    """Pids of the processes listening on 127.0.0.1:port (from /proc)."""
    hex_port = f"{port:04X}"
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{hex_port}") and fields[3] == "0A":
            inodes.add(fields[9])
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd).removeprefix("socket:[").removesuffix("]") in inodes:
                    pids.append(int(entry.name))
                    break
        except OSError:
            continue
    return pids


def register(base: str, name: str) -> dict:
    response = httpx.post(
        f"{base}/api/auth/register",
        json={"username": f"{name}_{uuid.uuid4().hex[:6]}", "password": "correct horse battery"},
    )
    response.raise_for_status()
    return response.json()


class TopicReader(threading.Thread):
    def __init__(self, bootstrap: str) -> None:
        super().__init__(daemon=True)
        self.seen: Counter[str] = Counter()
        self.last_arrival: dict[str, float] = {}
        self.stop = threading.Event()
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"outage-{uuid.uuid4()}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": 6000,
                "fetch.wait.max.ms": 10,
                "topic.metadata.refresh.interval.ms": 1000,
            }
        )
        self.consumer.subscribe(["message.created"])

    def run(self) -> None:
        while not self.stop.is_set():
            record = self.consumer.poll(0.2)
            if record is None or record.error():
                continue
            message_id = json.loads(record.value())["data"]["id"]
            self.seen[message_id] += 1
            self.last_arrival[message_id] = time.monotonic()
        self.consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8015")
    parser.add_argument("--bootstrap", required=True, help="the broker's host:port")
    parser.add_argument("--outage", choices=["pause", "kill"], default="pause")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()

    alice, bob = register(args.url, "alice"), register(args.url, "bob")
    chat = httpx.post(
        f"{args.url}/api/chats",
        json={"type": "direct", "memberIds": [bob["user"]["id"]]},
        headers={"Authorization": f"Bearer {alice['accessToken']}"},
    ).json()
    ws_url = args.url.replace("http://", "ws://") + f"/ws?token={alice['accessToken']}"
    reader = TopicReader(args.bootstrap)
    reader.start()
    port = int(args.bootstrap.rsplit(":", 1)[1])
    broker_pids = listeners_of(port)
    broker_argv = Path(f"/proc/{broker_pids[0]}/cmdline").read_bytes().split(b"\0")[:-1]

    acked: list[str] = []
    refused: Counter[str] = Counter()
    sent_at_return = 0
    returned_at = 0.0
    started = time.monotonic()
    with connect(ws_url) as socket:
        socket.send(json.dumps({"action": "ping", "requestId": "p"}))
        socket.recv(timeout=10)
        phase = "before"
        n = 0
        while time.monotonic() - started < 10 + args.seconds:
            elapsed = time.monotonic() - started
            if phase == "before" and elapsed >= 5:
                if args.outage == "pause":
                    for pid in broker_pids:
                        os.kill(pid, signal.SIGSTOP)
                else:
                    for pid in broker_pids:
                        os.kill(pid, signal.SIGKILL)
                phase = "outage"
                print(f"t={elapsed:.1f}s broker {args.outage}d")
            elif phase == "outage" and elapsed >= 5 + args.seconds:
                if args.outage == "pause":
                    for pid in broker_pids:
                        os.kill(pid, signal.SIGCONT)
                else:
                    restarted = subprocess.Popen(
                        [part.decode() for part in broker_argv],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                    print(f"new broker: pid {restarted.pid} (stop it when done)")
                    time.sleep(1)
                    subprocess.run(
                        [".venv/bin/parley-dev", "topics"],
                        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": args.bootstrap},
                        check=True,
                        capture_output=True,
                    )
                returned_at = time.monotonic()
                sent_at_return = len(acked)
                phase = "after"
                print(f"t={elapsed:.1f}s broker back")
            n += 1
            frame = {
                "action": "message",
                "requestId": f"m{n}",
                "data": {"chatId": chat["id"], "body": f"m{n}", "clientMessageId": f"c{n}"},
            }
            sent = time.monotonic()
            socket.send(json.dumps(frame))
            while True:
                ack = json.loads(socket.recv(timeout=30))
                if ack.get("type") == "ack" and ack.get("requestId") == f"m{n}":
                    break
            if ack["status"] == "ok":
                acked.append(ack["message"]["id"])
            else:
                refused[ack["code"]] += 1
            time.sleep(max(0.0, 0.6 - (time.monotonic() - sent)))

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all(reader.seen[i] for i in acked):
        time.sleep(0.5)
    reader.stop.set()
    missing = [i for i in acked if not reader.seen[i]]
    twice = [i for i in acked if reader.seen[i] > 1]
    last = max((reader.last_arrival[i] for i in acked if reader.seen[i]), default=returned_at)
    print(
        json.dumps(
            {
                "outage": args.outage,
                "seconds": args.seconds,
                "acked": len(acked),
                "ackedBeforeReturn": sent_at_return,
                "refused": dict(refused),
                "missingFromTopic": len(missing),
                "onTopicMoreThanOnce": len(twice),
                "lastArrivalAfterReturnSeconds": round(last - returned_at, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
