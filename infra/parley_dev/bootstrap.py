"""One execution environment: a function's handler, serving one invocation at a time.

The dev gateway starts `python -m parley_dev.bootstrap PARENT_PID` for each
environment and talks to it in JSON lines: the first line on stdin says which
function to load (the init phase; answered `ready` with its duration, or
`initError`), then each line is an invocation, answered with its result or
error, its duration and the process's peak memory. What the handler prints
goes to stderr, the gateway's log, as Lambda sends both streams to its log.

The process dies with the gateway (PR_SET_PDEATHSIG) and ignores Ctrl-C: the
gateway decides when an environment ends.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import resource
import signal
import sys
import time
import traceback
from typing import IO, Any

from parley_dev.lambda_runtime import FunctionSpec, build_during_init, context_for, load_handler

_PR_SET_PDEATHSIG = 1


def _die_with(parent_pid: int) -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": getattr(exc, "error_type", None) or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def _send(out: IO[bytes], line: bytes) -> None:
    out.write(line)
    out.flush()


def _max_memory_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux


def _invoke(handler: Any, spec: FunctionSpec, request: dict[str, Any]) -> bytes:
    context = context_for(spec, request["requestId"])
    started = time.perf_counter()
    try:
        answer = {"type": "result", "result": handler(request["event"], context)}
    except Exception as exc:
        traceback.print_exc()
        answer = {"type": "error", **_error(exc)}
    answer["durationMs"] = (time.perf_counter() - started) * 1000
    answer["maxMemoryMb"] = _max_memory_mb()
    answer["requestId"] = request["requestId"]
    try:
        return _encode(answer)
    except (TypeError, ValueError) as exc:
        # Lambda serialises the response; what JSON cannot carry is an error.
        answer.pop("result")
        return _encode(
            {**answer, "type": "error", **_error(exc), "errorType": "Runtime.MarshalError"}
        )


def main(argv: list[str]) -> int:
    _die_with(int(argv[1]))
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    spec = FunctionSpec.from_json(json.loads(requests.readline()))
    # Lambda runs the handler on the main thread, where an event loop is at
    # hand; some handlers (Mangum's) rely on it.
    asyncio.set_event_loop(asyncio.new_event_loop())
    started = time.perf_counter()
    try:
        handler = build_during_init(load_handler(spec))
    except Exception as exc:
        traceback.print_exc()
        _send(protocol, _encode({"type": "initError", **_error(exc)}))
        return 1
    _send(protocol, _encode({"type": "ready", "initMs": (time.perf_counter() - started) * 1000}))
    for line in requests:
        _send(protocol, _invoke(handler, spec, json.loads(line)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
