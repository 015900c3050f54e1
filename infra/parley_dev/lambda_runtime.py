"""What the Lambda runtime gives a handler: its module loaded, a context, its variables.

Shared by the dev gateway's execution environments (each a process running
`parley_dev.bootstrap`), its in-process mode and `parley-dev invoke`. Only the
standard library is imported here: an environment's cold start pays for what
its handler imports, not for the gateway.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from parley_dev.localenv import ACCOUNT_ID, REGION

Handler = Callable[[Any, Any], Any]


class FunctionLike(Protocol):
    """What running a function needs to know of it (a template `Function`)."""

    logical_id: str
    name: str
    code_dir: Path
    handler: str
    timeout_seconds: float
    memory_mb: int
    layer_dirs: Sequence[Path]


@dataclass(frozen=True)
class FunctionSpec:
    """A `FunctionLike` as plain data, for an environment that has no template."""

    logical_id: str
    name: str
    code_dir: Path
    handler: str
    timeout_seconds: float
    memory_mb: int
    layer_dirs: tuple[Path, ...] = ()

    @classmethod
    def of(cls, function: FunctionLike) -> FunctionSpec:
        return cls(
            function.logical_id,
            function.name,
            Path(function.code_dir),
            function.handler,
            float(function.timeout_seconds),
            int(function.memory_mb),
            tuple(Path(p) for p in function.layer_dirs),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "logicalId": self.logical_id,
            "name": self.name,
            "codeDir": str(self.code_dir),
            "handler": self.handler,
            "timeoutSeconds": self.timeout_seconds,
            "memoryMb": self.memory_mb,
            "layerDirs": [str(p) for p in self.layer_dirs],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FunctionSpec:
        return cls(
            data["logicalId"],
            data["name"],
            Path(data["codeDir"]),
            data["handler"],
            float(data["timeoutSeconds"]),
            int(data["memoryMb"]),
            tuple(Path(p) for p in data["layerDirs"]),
        )


class InvocationError(Exception):
    """The handler raised, could not be loaded, ran past its timeout, or its environment died."""

    def __init__(self, message: str, error_type: str = "Runtime.Error") -> None:
        super().__init__(message)
        self.error_type = error_type


class Throttled(InvocationError):
    """No environment could take the invocation (Lambda's TooManyRequestsException)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "TooManyRequestsException")


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


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


def context_for(function: FunctionLike, request_id: str | None = None) -> LambdaContext:
    """A fresh invocation context, as Lambda passes one to each call."""
    return LambdaContext(
        function_name=function.name,
        memory_limit_in_mb=function.memory_mb,
        invoked_function_arn=function_arn(function.name),
        aws_request_id=request_id or str(uuid.uuid4()),
        timeout_seconds=function.timeout_seconds,
    )


def runtime_variables(function: FunctionLike, runtime: str = "python3.12") -> dict[str, str]:
    """The variables the Lambda runtime sets in every execution environment."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]local",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "LAMBDA_TASK_ROOT": str(function.code_dir),
        "_HANDLER": function.handler,
    }


def _module_name(function: FunctionLike) -> str:
    safe = re.sub(r"\W", "_", function.logical_id)
    return f"_lambda_{safe}_{uuid.uuid4().hex[:8]}"


def handler_file(function: FunctionLike) -> Path:
    """The file `Handler` names (`app.handler` -> `<CodeUri>/app.py`)."""
    module_path = function.handler.rpartition(".")[0]
    return Path(function.code_dir).joinpath(*module_path.split(".")).with_suffix(".py")


def build_during_init(handler: Handler) -> Handler:
    """Build now a handler that would build its route on its first invocation.

    Parley's functions do that on an on-demand start (parley.coldstart); the
    dev gateway has them build in the init phase instead: this machine's
    cores are shared by every environment, and the gateway bounds how many
    initialise at once (`max_concurrent_inits`), with the init phase's longer
    timeout. On Lambda each environment has its own CPU.
    """
    build = getattr(handler, "load", None)
    if callable(build):
        build()
    return handler


def load_handler(function: FunctionLike) -> Handler:
    """Import the function's handler file under a name no other function shares."""
    module_path, _, attribute = function.handler.rpartition(".")
    if not module_path:
        raise InvocationError(
            f"{function.logical_id}: bad Handler {function.handler!r}", "Runtime.HandlerNotFound"
        )
    file = handler_file(function)
    if not file.is_file():
        raise InvocationError(
            f"{function.logical_id}: {file} does not exist", "Runtime.ImportModuleError"
        )
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
        raise InvocationError(
            f"{function.logical_id}: {file} has no callable {attribute!r}",
            "Runtime.HandlerNotFound",
        )
    return handler
