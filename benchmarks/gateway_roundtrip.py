"""Round-trip latency through the dev gateway against a bare websockets server.

Three figures, loopback only, N bounded:
  - bare:     a frame echoed by a plain `websockets` server (the floor);
  - gateway:  a frame routed by the gateway to a two-way echo handler;
  - post:     a POST to @connections (boto3-free: raw httpx, SigV4-signed with
              the local credentials as boto3 signs, signing included) until
              the frame reaches the client.

    .venv/bin/python benchmarks/gateway_roundtrip.py [-n 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import websockets
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve as ws_serve

sys.path[:0] = [str(Path(__file__).parents[1] / "infra")]
from parley_dev.gateway import GatewayOptions, GatewayServer, create_app  # noqa: E402
from parley_dev.gateway.sigv4 import sign  # noqa: E402
from parley_dev.localenv import DUMMY_CREDENTIALS, REGION  # noqa: E402

LOCAL_KEYS = {
    "access_key": DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
    "secret_key": DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
}

TEMPLATE = Path(__file__).parents[1] / "tests" / "gateway" / "fixture" / "template.yaml"
FRAME = json.dumps({"action": "echo", "data": "x" * 64})


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000,
    }


async def echo_roundtrips(url: str, n: int) -> list[float]:
    async with connect(url, max_size=None) as client:
        for _ in range(min(100, n)):  # warm-up
            await client.send(FRAME)
            await client.recv()
        samples = []
        for _ in range(n):
            started = time.perf_counter()
            await client.send(FRAME)
            await client.recv()
            samples.append(time.perf_counter() - started)
        return samples


async def bare(n: int) -> list[float]:
    async def echo(socket: websockets.ServerConnection) -> None:
        async for message in socket:
            await socket.send(message)

    async with ws_serve(echo, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        return await echo_roundtrips(f"ws://127.0.0.1:{port}", n)


async def post_roundtrips(server: GatewayServer, n: int) -> list[float]:
    async with connect(server.ws_url("ws")) as client, httpx.AsyncClient() as http:
        await client.send(json.dumps({"action": "echo"}))
        connection_id = json.loads(await client.recv())["connectionId"]
        url = f"{server.url}/ws/@connections/{quote(connection_id, safe='')}"
        samples = []
        for i in range(min(100, n) + n):
            started = time.perf_counter()
            # Signed as boto3 signs (SigV4 with the local credentials), timed with the post.
            headers = sign("POST", url, FRAME.encode(), region=REGION, **LOCAL_KEYS)
            response, _ = await asyncio.gather(
                http.post(url, content=FRAME, headers=headers), client.recv()
            )
            response.raise_for_status()
            if i >= min(100, n):
                samples.append(time.perf_counter() - started)
        return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=2000)
    n = min(parser.parse_args().n, 20000)

    bare_samples = asyncio.run(bare(n))
    options = GatewayOptions(run_event_sources=False, run_schedules=False)
    with GatewayServer(create_app(TEMPLATE, options=options)) as server:
        gateway_samples = asyncio.run(echo_roundtrips(server.ws_url("ws"), n))
        post_samples = asyncio.run(post_roundtrips(server, n))

    figures = {
        "bare": summary(bare_samples),
        "gateway": summary(gateway_samples),
        "post": summary(post_samples),
    }
    print(f"Python {platform.python_version()}, {platform.machine()}, n={n}")
    print(f"{'path':<10}{'p50 ms':>10}{'p99 ms':>10}{'p50 x bare':>12}")
    for name, figure in figures.items():
        ratio = figure["p50_ms"] / figures["bare"]["p50_ms"]
        print(f"{name:<10}{figure['p50_ms']:>10.3f}{figure['p99_ms']:>10.3f}{ratio:>12.1f}")


if __name__ == "__main__":
    main()
