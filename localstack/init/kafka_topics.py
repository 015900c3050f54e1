"""Create Parley's Kafka topics with nothing but the standard library.

The LocalStack container runs its init hooks with a bare Python: no Kafka
client to import. One CreateTopics request (version 2, answered by Kafka 2.x
to 4.x and by Tansu) carries the whole catalog, read from
layers/parley/parley/events/catalog.py so the list is never copied.

    python3 kafka_topics.py --bootstrap kafka:9092 --catalog .../catalog.py
"""

from __future__ import annotations

import argparse
import importlib.util
import socket
import struct
import sys
from pathlib import Path

CREATE_TOPICS = 19
VERSION = 2
TOPIC_ALREADY_EXISTS = 36


def catalog_topics(catalog_path: Path) -> list[str]:
    spec = importlib.util.spec_from_file_location("parley_catalog", catalog_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while building
    spec.loader.exec_module(module)
    return [topic.name for topic in module.TOPICS]


def _string(value: str | None) -> bytes:
    if value is None:
        return struct.pack(">h", -1)
    data = value.encode()
    return struct.pack(">h", len(data)) + data


def create_topics_request(
    topics: list[str], partitions: int, retention_ms: int, correlation_id: int = 1
) -> bytes:
    body = struct.pack(">i", len(topics))
    for name in topics:
        body += _string(name) + struct.pack(">ihi", partitions, 1, 0)  # no manual assignment
        body += struct.pack(">i", 1) + _string("retention.ms") + _string(str(retention_ms))
    body += struct.pack(">ib", 30_000, 0)  # timeout, validate_only=false
    header = struct.pack(">hhi", CREATE_TOPICS, VERSION, correlation_id) + _string("parley-init")
    message = header + body
    return struct.pack(">i", len(message)) + message


def parse_create_topics_response(frame: bytes) -> dict[str, tuple[int, str | None]]:
    """{topic: (error code, message)} from a CreateTopics v2 response (size prefix removed)."""
    offset = 8  # correlation id, throttle time
    (count,) = struct.unpack_from(">i", frame, offset)
    offset += 4
    results = {}
    for _ in range(count):
        name, offset = _read_string(frame, offset)
        (error_code,) = struct.unpack_from(">h", frame, offset)
        message, offset = _read_string(frame, offset + 2)
        results[name] = (error_code, message)
    return results


def _read_string(frame: bytes, offset: int) -> tuple[str | None, int]:
    (length,) = struct.unpack_from(">h", frame, offset)
    offset += 2
    if length < 0:
        return None, offset
    return frame[offset : offset + length].decode(), offset + length


def _receive(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        data += chunk
    return data


def create_topics(
    bootstrap: str, topics: list[str], partitions: int = 3, retention_ms: int = 604_800_000
) -> dict[str, str]:
    """{topic: "created" | "exists"}; raises on any other broker error."""
    host, port = bootstrap.split(",")[0].strip().rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(create_topics_request(topics, partitions, retention_ms))
        (size,) = struct.unpack(">i", _receive(sock, 4))
        results = parse_create_topics_response(_receive(sock, size))
    outcome = {}
    for name, (error_code, message) in results.items():
        if error_code == 0:
            outcome[name] = "created"
        elif error_code == TOPIC_ALREADY_EXISTS:
            outcome[name] = "exists"
        else:
            raise RuntimeError(f"creating topic {name}: error {error_code} {message or ''}")
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="host:port of a broker")
    parser.add_argument("--catalog", required=True, type=Path, help="path of catalog.py")
    parser.add_argument("--partitions", type=int, default=3)
    args = parser.parse_args(argv)
    for name, state in create_topics(
        args.bootstrap, catalog_topics(args.catalog), args.partitions
    ).items():
        print(f"{name:<24} {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
