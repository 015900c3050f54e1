"""Running Lambda handlers in-process, as the Lambda runtime would.

Each function's module is loaded from its CodeUri under a unique module name
(every function's entry file is `app.py`, so `import app` would hand every
route the first one loaded). Handlers are synchronous: invocations run on a
thread pool so the event loop serving sockets never waits on a handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from parley_dev.localenv import DUMMY_CREDENTIALS, LOCAL_REGION

from .cfn import function_arn
from .template import Function, Wiring

logger = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]

# What the Lambda runtime always provides and local code may rely on (boto3
# wants a region and credentials even when it talks to the local gateway).
_RUNTIME_DEFAULTS = LOCAL_REGION


def _give_thread_an_event_loop() -> None:
    # Lambda runs a handler on its main thread, where asyncio.get_event_loop()
    # works; handlers such as Mangum's rely on it, so each worker gets a loop.
    asyncio.set_event_loop(asyncio.new_event_loop())


class InvocationError(Exception):
    """The handler raised, could not be loaded, or ran past its timeout."""


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_seconds: float
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"{time.strftime('%Y/%m/%d')}/[$LATEST]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


def context_for(function: Function) -> LambdaContext:
    """A fresh invocation context, as Lambda passes one to each call."""
    return LambdaContext(
        function_name=function.name,
        memory_limit_in_mb=function.memory_mb,
        invoked_function_arn=function_arn(function.name),
        aws_request_id=str(uuid.uuid4()),
        timeout_seconds=function.timeout_seconds,
    )


def _module_name(function: Function) -> str:
    safe = re.sub(r"\W", "_", function.logical_id)
    return f"_lambda_{safe}_{uuid.uuid4().hex[:8]}"


def load_handler(function: Function) -> Handler:
    """Import the function's handler file under a name no other function shares."""
    module_path, _, attribute = function.handler.rpartition(".")
    if not module_path:
        raise InvocationError(f"{function.logical_id}: bad Handler {function.handler!r}")
    file = function.code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
    if not file.is_file():
        raise InvocationError(f"{function.logical_id}: {file} does not exist")
    for layer_dir in function.layer_dirs:
        if str(layer_dir) not in sys.path:
            sys.path.append(str(layer_dir))
    spec = importlib.util.spec_from_file_location(_module_name(function), file)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    # Sibling modules in the function's directory import as they do on Lambda,
    # where the code directory is on the path; only while the entry file loads.
    sys.path.insert(0, str(function.code_dir))
    try:
        spec.loader.exec_module(module)
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(function.code_dir))
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise InvocationError(f"{function.logical_id}: {file} has no callable {attribute!r}")
    return handler


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


class FunctionRunner:
    """Loads handlers once and invokes them off the event loop."""

    def __init__(self, wiring: Wiring, *, max_workers: int = 32, log_events: bool = False) -> None:
        self.wiring = wiring
        self.log_events = log_events
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.executor = ThreadPoolExecutor(
            max_workers=max_workers,
            thread_name_prefix="lambda",
            initializer=_give_thread_an_event_loop,
        )

    def handler(self, logical_id: str) -> Handler:
        with self._lock:
            if logical_id not in self._handlers:
                self._handlers[logical_id] = load_handler(self.wiring.functions[logical_id])
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

    def shutdown(self, wait: bool = True) -> None:
        self.executor.shutdown(wait=wait, cancel_futures=False)


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
