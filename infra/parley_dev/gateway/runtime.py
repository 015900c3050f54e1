"""How the gateway runs functions: in execution environments, or in-process for a debugger.

`create_runner` picks the runner. Both answer `await invoke(function,
event)` (and `invoke_sync` from a thread other than the gateway's loop) and
raise `InvocationError` when the handler raised, timed out or could not run.

- `EnvironmentRunner` (the default, `environments.py`): each function in
  worker processes of its own, as on Lambda.
- `InProcessRunner`: every handler imported into the gateway's process and
  run on a thread pool, so a breakpoint in a handler stops in the IDE that
  runs the gateway. Module state is shared between functions there, as it
  never is on Lambda.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from parley_dev.lambda_runtime import (
    Handler,
    InvocationError,
    LambdaContext,
    build_during_init,
    context_for,
    load_handler,
)
from parley_dev.localenv import DUMMY_CREDENTIALS, LOCAL_REGION

from .options import GatewayOptions
from .template import Wiring

__all__ = [
    "Handler",
    "InvocationError",
    "LambdaContext",
    "Runner",
    "access_log",
    "context_for",
    "create_runner",
    "load_handler",
]

logger = logging.getLogger(__name__)

# What the Lambda runtime always provides and local code may rely on (boto3
# wants a region and credentials even when it talks to the local gateway).
_RUNTIME_DEFAULTS = LOCAL_REGION


class Runner(Protocol):
    async def start(self) -> None: ...

    async def invoke(self, logical_id: str, event: Any) -> Any: ...

    def invoke_sync(self, logical_id: str, event: Any) -> Any: ...

    async def stop(self) -> None: ...


def create_runner(wiring: Wiring, options: GatewayOptions) -> Runner:
    if options.in_process:
        return InProcessRunner(wiring, options)
    from .environments import EnvironmentRunner

    return EnvironmentRunner(wiring, options)


def _give_thread_an_event_loop() -> None:
    # Lambda runs a handler on its main thread, where asyncio.get_event_loop()
    # works; handlers such as Mangum's rely on it, so each worker gets a loop.
    asyncio.set_event_loop(asyncio.new_event_loop())


class EnvironmentOverlay:
    """Applies the template's variables to this process, and takes them back.

    A variable already set in the process wins over the template: that is how
    a developer points the stack at their own database. Functions share the
    process, so a variable two functions set differently keeps the first value.
    """

    def __init__(self) -> None:
        self._applied: dict[str, str] = {}

    def apply(self, wiring: Wiring) -> None:
        wanted: dict[str, str] = {}
        for name, value in _RUNTIME_DEFAULTS.items():
            wanted.setdefault(name, value)
        if not any(os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE")):
            wanted.update(DUMMY_CREDENTIALS)
        for function in wiring.functions.values():
            for name, value in function.environment.items():
                if name in wanted and wanted[name] != value and name not in _RUNTIME_DEFAULTS:
                    logger.warning(
                        "%s sets %s differently from another function; keeping %r",
                        function.logical_id,
                        name,
                        wanted[name],
                    )
                    continue
                wanted[name] = value
        for name, value in wanted.items():
            if name not in os.environ:
                os.environ[name] = value
                self._applied[name] = value

    def restore(self) -> None:
        for name, value in self._applied.items():
            if os.environ.get(name) == value:
                del os.environ[name]
        self._applied.clear()


class InProcessRunner:
    """Loads handlers into this process once and invokes them off the event loop."""

    def __init__(self, wiring: Wiring, options: GatewayOptions) -> None:
        self.wiring = wiring
        self.log_events = options.log_events
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._environment = EnvironmentOverlay()
        self.executor = ThreadPoolExecutor(
            max_workers=options.max_in_process_threads,
            thread_name_prefix="lambda",
            initializer=_give_thread_an_event_loop,
        )

    async def start(self) -> None:
        self._environment.apply(self.wiring)
        await asyncio.get_running_loop().run_in_executor(self.executor, self.preload)

    def handler(self, logical_id: str) -> Handler:
        with self._lock:
            if logical_id not in self._handlers:
                function = self.wiring.functions[logical_id]
                self._handlers[logical_id] = build_during_init(load_handler(function))
            return self._handlers[logical_id]

    def preload(self) -> None:
        """Import every handler now, so a broken one shows at start-up."""
        for logical_id in self.wiring.functions:
            try:
                self.handler(logical_id)
            except Exception as exc:
                logger.warning("could not load %s: %s", logical_id, exc)

    def invoke_sync(self, logical_id: str, event: Any) -> Any:
        """Run one invocation on the calling thread."""
        function = self.wiring.functions[logical_id]
        context = context_for(function)
        if self.log_events:
            logger.info("event for %s: %s", function.logical_id, json.dumps(event, default=str))
        try:
            handler = self.handler(logical_id)
        except Exception as exc:
            raise InvocationError(str(exc)) from exc
        return handler(event, context)

    async def invoke(self, logical_id: str, event: Any) -> Any:
        """Run one invocation on the pool; a timeout is the function's own."""
        timeout = self.wiring.functions[logical_id].timeout_seconds
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, self.invoke_sync, logical_id, event)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError as exc:
            raise InvocationError(f"{logical_id} timed out after {timeout:g}s") from exc

    async def stop(self) -> None:
        # Let in-flight invocations finish; the pool's threads are not daemons.
        await asyncio.to_thread(self.executor.shutdown, True)
        self._environment.restore()


@contextlib.contextmanager
def access_log(**fields: Any) -> Iterator[dict[str, Any]]:
    """One structured line per invocation; the body sets `status` as it learns it."""
    started = time.perf_counter()
    fields.setdefault("status", "-")
    try:
        yield fields
    except BaseException:
        if fields["status"] == "-":
            fields["status"] = "error"
        raise
    finally:
        fields["durationMs"] = round((time.perf_counter() - started) * 1000, 1)
        logger.info(
            " ".join(f"{key}={value}" for key, value in fields.items()),
            extra={"gateway": dict(fields)},
        )
