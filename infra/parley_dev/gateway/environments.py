"""Execution environments: each function runs in worker processes of its own, as on Lambda.

An environment is one process (`parley_dev.bootstrap`) that imported one
function's handler and serves one invocation at a time. A function starts
environments on demand (a cold start, its init duration reported on the
first invocation), keeps them warm, and reaps them once idle. Under
concurrency it gets more, up to its `ReservedConcurrentExecutions`, where
Lambda throttles at once, or else up to the gateway's local limit, where
invocations wait in line for the next free environment: that limit stands
for the machine, not for Lambda.

An invocation that passes the function's `Timeout` has its environment
killed; so has one whose environment exits under it. Either way the caller
gets an `InvocationError`, the next invocation a fresh environment, and the
gateway goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import sys
import time
import uuid
from collections import deque
from typing import Any

from parley_dev.lambda_runtime import (
    FunctionSpec,
    InvocationError,
    Throttled,
    handler_file,
    runtime_variables,
)
from parley_dev.localenv import DUMMY_CREDENTIALS

from .options import GatewayOptions
from .template import Function, Wiring

logger = logging.getLogger(__name__)

# Lambda's synchronous response limit is 6 MB; leave room for the envelope.
_MAX_LINE_BYTES = 8 * 1024 * 1024
# Lambda gives the init phase 10 s; a loaded laptop may need longer to import.
_INIT_TIMEOUT_SECONDS = 30.0
_STOP_GRACE_SECONDS = 2.0


def environment_variables(function: Function, provisioned: bool = False) -> dict[str, str]:
    """What an environment's process sees: the shell, the template, then the runtime's own.

    A variable set in the gateway's process wins over the template's: that
    is how a developer points the stack at their own database.
    """
    variables = dict(os.environ)
    for name, value in function.environment.items():
        variables.setdefault(name, value)
    variables.update(runtime_variables(function, function.runtime))
    if provisioned:
        variables["AWS_LAMBDA_INITIALIZATION_TYPE"] = "provisioned-concurrency"
    if not any(variables.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE")):
        variables.update(DUMMY_CREDENTIALS)
    variables["PYTHONUNBUFFERED"] = "1"
    return variables


class EnvironmentGone(Exception):
    """The environment's process ended while it owed an answer."""


class Environment:
    """One worker process with one function's handler loaded."""

    def __init__(self, function: Function, process: asyncio.subprocess.Process, number: int):
        self.function = function
        self.process = process
        self.number = number
        self.init_ms: float | None = None  # reported with the first invocation
        self.provisioned = False  # kept however long it idles, as Lambda keeps them
        self.last_used = time.monotonic()

    @classmethod
    async def start(cls, function: Function, number: int, provisioned: bool = False) -> Environment:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "parley_dev.bootstrap",
            str(os.getpid()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=str(function.code_dir),
            env=environment_variables(function, provisioned),
            # Ctrl-C reaches the gateway alone: environments must outlive it
            # long enough to run the $disconnect handlers of a graceful stop.
            start_new_session=True,
            limit=_MAX_LINE_BYTES,
        )
        environment = cls(function, process, number)
        try:
            ready = await asyncio.wait_for(
                environment._exchange(FunctionSpec.of(function).to_json()), _INIT_TIMEOUT_SECONDS
            )
        except (TimeoutError, EnvironmentGone) as exc:
            environment.kill()
            await environment.stop()
            raise InvocationError(
                f"{function.logical_id}: init failed ({type(exc).__name__})", "Runtime.Unknown"
            ) from exc
        if ready.get("type") != "ready":
            await environment.stop()
            raise InvocationError(
                f"{function.logical_id}: {ready.get('errorType')}: {ready.get('errorMessage')}",
                ready.get("errorType") or "Runtime.Unknown",
            )
        # A provisioned environment's init is not any invocation's (as on Lambda).
        environment.init_ms = None if provisioned else float(ready["initMs"])
        environment.provisioned = provisioned
        return environment

    async def _exchange(self, message: dict[str, Any]) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
            await stdin.drain()
            line = await stdout.readline()
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise EnvironmentGone from exc
        if not line:
            raise EnvironmentGone
        return json.loads(line)

    async def invoke(self, request_id: str, event: Any) -> dict[str, Any]:
        """The environment's answer; TimeoutError past the function's timeout."""
        self.last_used = time.monotonic()
        try:
            return await asyncio.wait_for(
                self._exchange({"requestId": request_id, "event": event}),
                self.function.timeout_seconds,
            )
        finally:
            self.last_used = time.monotonic()

    async def exit_status(self) -> str:
        with contextlib.suppress(TimeoutError):
            code = await asyncio.wait_for(self.process.wait(), 1.0)
            return f"signal {-code}" if code < 0 else f"exit status {code}"
        return "unknown"

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    async def stop(self) -> None:
        """Let the process end by itself (stdin closed), then make sure."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), _STOP_GRACE_SECONDS)
        except TimeoutError:
            self.kill()
            await self.process.wait()


class FunctionEnvironments:
    """The environments of one function: started on demand, reused warm, reaped idle."""

    def __init__(
        self,
        function: Function,
        limit: int,
        throttle_at_limit: bool,
        init_gate: asyncio.Semaphore,
    ) -> None:
        self.function = function
        self.limit = limit
        self.throttle_at_limit = throttle_at_limit
        # Shared by every function: inits at once, machine-wide.
        self.init_gate = init_gate
        self.idle: list[Environment] = []  # most recently used last
        self.live: set[Environment] = set()
        self.starting = 0
        self.waiting: deque[asyncio.Future[Environment]] = deque()
        self._started = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._ending: set[asyncio.Task[None]] = set()

    @property
    def size(self) -> int:
        return len(self.live) + self.starting

    async def invoke(self, event: Any) -> Any:
        environment = await self._acquire()
        request_id = str(uuid.uuid4())
        try:
            answer = await environment.invoke(request_id, event)
        except TimeoutError:
            self._discard(environment)
            self._report(
                environment, request_id, self.function.timeout_seconds * 1000, None, "timeout"
            )
            raise InvocationError(
                f"{self.function.logical_id}: Task timed out after "
                f"{self.function.timeout_seconds:.2f} seconds",
                "Sandbox.Timedout",
            ) from None
        except EnvironmentGone:
            status = await environment.exit_status()
            self._discard(environment)
            self._report(environment, request_id, None, None, "error")
            raise InvocationError(
                f"{self.function.logical_id}: Runtime exited with error: {status}",
                "Runtime.ExitError",
            ) from None
        except BaseException:
            # Cancelled mid-invocation: the handler still runs, so the process
            # cannot serve anyone else.
            self._discard(environment)
            raise
        self._release(environment)
        self._report(environment, request_id, answer["durationMs"], answer["maxMemoryMb"])
        if answer.get("type") != "result":
            raise InvocationError(
                f"{self.function.logical_id}: {answer.get('errorType')}: "
                f"{answer.get('errorMessage')}",
                answer.get("errorType") or "Unhandled",
            )
        return answer.get("result")

    # --- environments in and out ---------------------------------------------

    async def _acquire(self) -> Environment:
        if self.idle:
            return self.idle.pop()
        if self.throttle_at_limit and self.size >= self.limit:
            raise Throttled(
                f"{self.function.logical_id}: Rate Exceeded "
                f"(ReservedConcurrentExecutions {self.limit}, all busy)"
            )
        waiter: asyncio.Future[Environment] = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        self._grow()
        # Past the local limit an invocation waits; not forever.
        patience = asyncio.get_running_loop().call_later(
            self.function.timeout_seconds + _INIT_TIMEOUT_SECONDS,
            self._give_up,
            waiter,
        )
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release(waiter.result())
            raise
        finally:
            patience.cancel()

    def _give_up(self, waiter: asyncio.Future[Environment]) -> None:
        if not waiter.done():
            waiter.set_exception(
                Throttled(f"{self.function.logical_id}: no environment became free in time")
            )

    def _live_waiters(self) -> int:
        return sum(1 for waiter in self.waiting if not waiter.done())

    def _grow(self) -> None:
        while self._live_waiters() > self.starting and self.size < self.limit:
            self.starting += 1
            self._started += 1
            task = asyncio.create_task(self._start(self._started))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def provision(self, count: int) -> None:
        """Start environments ahead of any invocation, up to `count` in all."""
        for _ in range(min(count, self.limit)):
            if self.size >= min(count, self.limit):
                return
            self.starting += 1
            self._started += 1
            if not await self._start(self._started, provisioned=True):
                return

    async def _start(self, number: int, provisioned: bool = False) -> bool:
        """One more environment, once an init slot is free; False if none was started."""
        try:
            async with self.init_gate:
                # While this waited for its slot, a warm environment may have
                # served the invocation that asked for it.
                if not provisioned and self._live_waiters() == 0:
                    return False
                environment = await Environment.start(self.function, number, provisioned)
        except Exception as exc:
            error = (
                exc
                if isinstance(exc, InvocationError)
                else InvocationError(f"{self.function.logical_id}: could not start: {exc}")
            )
            logger.error("%s", error)
            # The invocation waiting longest gets the init error, as the one
            # that caused a failed cold start does on Lambda.
            while self.waiting:
                waiter = self.waiting.popleft()
                if not waiter.done():
                    waiter.set_exception(error)
                    break
            return False
        finally:
            self.starting -= 1
        self.live.add(environment)
        self._release(environment)
        return True

    def _release(self, environment: Environment) -> None:
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(environment)
                return
        self.idle.append(environment)

    def _discard(self, environment: Environment) -> None:
        environment.kill()
        self.live.discard(environment)
        ending = asyncio.create_task(environment.stop())
        self._ending.add(ending)
        ending.add_done_callback(self._ending.discard)
        self._grow()  # someone may be waiting for the slot it held

    async def reap(self, idle_seconds: float) -> None:
        cutoff = time.monotonic() - idle_seconds
        stale = [e for e in self.idle if e.last_used < cutoff and not e.provisioned]
        for environment in stale:
            self.idle.remove(environment)
            self.live.discard(environment)
        await asyncio.gather(*(e.stop() for e in stale))

    async def stop(self) -> None:
        for waiter in self.waiting:
            if not waiter.done():
                waiter.set_exception(InvocationError("the gateway is stopping"))
        self.waiting.clear()
        for task in list(self._tasks):
            task.cancel()
        environments = list(self.live)
        self.live.clear()
        self.idle.clear()
        await asyncio.gather(
            *(e.stop() for e in environments), *self._ending, return_exceptions=True
        )

    # --- the log --------------------------------------------------------------

    def _report(
        self,
        environment: Environment,
        request_id: str,
        duration_ms: float | None,
        max_memory_mb: int | None,
        status: str | None = None,
    ) -> None:
        """Lambda's REPORT line, with the function's name in front."""
        parts = [f"{self.function.name} REPORT RequestId: {request_id}"]
        if duration_ms is not None:
            parts.append(f"Duration: {duration_ms:.2f} ms")
            parts.append(f"Billed Duration: {math.ceil(duration_ms)} ms")
        parts.append(f"Memory Size: {self.function.memory_mb} MB")
        if max_memory_mb is not None:
            parts.append(f"Max Memory Used: {max_memory_mb} MB")
        if environment.init_ms is not None:
            parts.append(f"Init Duration: {environment.init_ms:.2f} ms")
            environment.init_ms = None
        if status:
            parts.append(f"Status: {status}")
        logger.info(
            "\t".join(parts),
            extra={
                "report": {
                    "function": self.function.logical_id,
                    "requestId": request_id,
                    "environment": environment.number,
                    "durationMs": duration_ms,
                    "maxMemoryMb": max_memory_mb,
                    "status": status or "ok",
                }
            },
        )
        if max_memory_mb is not None and max_memory_mb > self.function.memory_mb:
            logger.warning(
                "%s used %d MB, over its MemorySize of %d MB: Lambda would stop this environment",
                self.function.logical_id,
                max_memory_mb,
                self.function.memory_mb,
            )


class EnvironmentRunner:
    """Invokes the template's functions, each in execution environments of its own."""

    def __init__(self, wiring: Wiring, options: GatewayOptions) -> None:
        self.wiring = wiring
        self.options = options
        # Imports running at once only slow each other down on a laptop; the
        # invocations that wait are served by whichever environment frees first.
        init_gate = asyncio.Semaphore(options.max_concurrent_inits)
        self.functions = {
            logical_id: FunctionEnvironments(
                function,
                limit=(
                    function.reserved_concurrency
                    if function.reserved_concurrency is not None
                    else options.max_environments_per_function
                ),
                throttle_at_limit=function.reserved_concurrency is not None,
                init_gate=init_gate,
            )
            for logical_id, function in wiring.functions.items()
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._provisioning: asyncio.Task[None] | None = None
        self._stopped = False

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for function in self.wiring.functions.values():
            file = handler_file(function)
            if not file.is_file():
                logger.warning("%s: handler file %s does not exist", function.logical_id, file)
        self._reaper = asyncio.create_task(self._reap())
        if self.options.provisioned_environments > 0:
            self._provisioning = asyncio.create_task(self._provision())

    async def _provision(self) -> None:
        """Provisioned concurrency, locally: environments started before they are asked for.

        The functions behind WebSocket routes first; inits share the
        machine-wide limit with cold starts, so the machine stays usable.
        """
        routed = [
            route.function for api in self.wiring.websocket_apis for route in api.routes.values()
        ]
        routed += [route.function for route in self.wiring.http_routes]
        order = list(dict.fromkeys([*routed, *self.wiring.functions]))
        await asyncio.gather(
            *(
                self.functions[logical_id].provision(self.options.provisioned_environments)
                for logical_id in order
            ),
            return_exceptions=True,
        )

    def wait_provisioned(self, timeout: float) -> None:
        """From another thread: block until the provisioned environments are up."""
        assert self._loop is not None, "start() first"
        provisioning = self._provisioning
        if provisioning is None:
            return

        async def provisioned() -> None:
            await asyncio.shield(provisioning)

        asyncio.run_coroutine_threadsafe(provisioned(), self._loop).result(timeout)

    async def invoke(self, logical_id: str, event: Any) -> Any:
        if self._stopped:
            raise InvocationError("the gateway is stopping")
        if self.options.log_events:
            logger.info("event for %s: %s", logical_id, json.dumps(event, default=str))
        return await self.functions[logical_id].invoke(event)

    def invoke_sync(self, logical_id: str, event: Any) -> Any:
        """From a thread other than the gateway's loop (the Kafka consumers)."""
        assert self._loop is not None, "start() first"
        return asyncio.run_coroutine_threadsafe(self.invoke(logical_id, event), self._loop).result()

    async def _reap(self) -> None:
        idle = self.options.environment_idle_seconds
        while True:
            await asyncio.sleep(min(idle, 5.0))
            for environments in self.functions.values():
                await environments.reap(idle)

    async def stop(self) -> None:
        self._stopped = True
        for task in (self._reaper, self._provisioning):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(f.stop() for f in self.functions.values()))

    def environments(self, logical_id: str) -> FunctionEnvironments:
        return self.functions[logical_id]
