"""Execution environments: each function in worker processes of its own, as on Lambda."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from parley_dev.gateway import GatewayOptions, GatewayServer, create_app, load_wiring
from parley_dev.gateway.environments import EnvironmentRunner
from parley_dev.lambda_runtime import InvocationError, Throttled

from .conftest import open_client, process_alive

TEMPLATE = Path(__file__).parent / "fixture" / "environments" / "template.yaml"


def _wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _run(scenario: Callable[[EnvironmentRunner], Awaitable[Any]], **options: Any) -> Any:
    """Runs `scenario` against a started runner over the fixture template, then stops it."""

    async def main() -> Any:
        runner = EnvironmentRunner(
            load_wiring(TEMPLATE), GatewayOptions(log_events=False, **options)
        )
        await runner.start()
        try:
            return await scenario(runner)
        finally:
            await runner.stop()

    return asyncio.run(main())


def _message(**body: Any) -> dict[str, Any]:
    return {"requestContext": {"routeKey": "$default"}, "body": json.dumps(body)}


async def _answer(runner: EnvironmentRunner, function: str, **body: Any) -> dict[str, Any]:
    return json.loads((await runner.invoke(function, _message(**body)))["body"])


async def _wait_for_files(directory: Path, count: int, timeout: float = 30.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while len(found := list(directory.iterdir())) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return found


def test_module_state_set_in_one_function_is_not_visible_to_another():
    async def scenario(runner: EnvironmentRunner) -> tuple[dict, dict, dict]:
        first = await _answer(runner, "StateFunction", remember="only mine")
        other = await _answer(runner, "OtherStateFunction")
        again = await _answer(runner, "StateFunction")
        return first, other, again

    first, other, again = _run(scenario)
    assert other["remembered"] is None
    assert other["pid"] != first["pid"]
    # The same function's warm environment keeps its module state, as on Lambda.
    assert again["remembered"] == "only mine"
    assert again["pid"] == first["pid"]


def test_an_environment_starts_cold_once_and_sees_its_function_and_runtime_variables():
    async def scenario(runner: EnvironmentRunner) -> list[dict]:
        return [
            await _answer(runner, "StateFunction"),
            await _answer(runner, "StateFunction"),
            await _answer(runner, "OtherStateFunction"),
        ]

    cold, warm, other = _run(scenario)
    assert (cold["coldStart"], warm["coldStart"], other["coldStart"]) == (True, False, True)
    assert cold["functionName"] == cold["contextFunctionName"] == "StateFunction"
    assert other["functionName"] == "other-state"
    assert cold["memorySize"] == "192"
    assert cold["handler"] == "app.handler"
    assert cold["region"] == "us-east-1"
    # Each function gets its own template variables, nothing of another's.
    assert (cold["role"], other["role"]) == ("state", None)
    assert cold["requestId"] != warm["requestId"]


def test_concurrent_invocations_get_environments_up_to_the_local_limit_then_wait(tmp_path):
    started, release = tmp_path / "started", tmp_path / "release"
    started.mkdir()

    async def scenario(runner: EnvironmentRunner) -> tuple[list[Path], list[Any]]:
        calls = [
            asyncio.ensure_future(
                _answer(runner, "CrashFunction", startedDir=str(started), holdUntil=str(release))
            )
            for _ in range(5)
        ]
        running = await _wait_for_files(started, 3)
        # Everything past the limit waits in line: none of it has started.
        await asyncio.sleep(0.5)
        running = list(started.iterdir())
        release.touch()
        return running, await asyncio.gather(*calls)

    running, answers = _run(scenario, max_environments_per_function=3)
    assert len(running) == 3
    assert len({path.name.split("-")[0] for path in running}) == 3
    assert len(answers) == 5
    assert len({answer["pid"] for answer in answers}) == 3


def test_reserved_concurrency_throttles_past_the_limit_as_lambda_does(tmp_path):
    started, release = tmp_path / "started", tmp_path / "release"
    started.mkdir()

    async def scenario(runner: EnvironmentRunner) -> tuple[BaseException | None, dict]:
        holding = [
            asyncio.ensure_future(
                _answer(runner, "ReservedFunction", startedDir=str(started), holdUntil=str(release))
            )
            for _ in range(2)
        ]
        await _wait_for_files(started, 2)
        try:
            await _answer(runner, "ReservedFunction")
            refused = None
        except Throttled as error:
            refused = error
        release.touch()
        await asyncio.gather(*holding)
        return refused, await _answer(runner, "ReservedFunction")

    refused, after = _run(scenario, max_environments_per_function=10)
    assert refused is not None and refused.error_type == "TooManyRequestsException"
    assert after["pid"]


def test_an_invocation_past_its_timeout_has_its_environment_killed_and_replaced():
    async def scenario(runner: EnvironmentRunner) -> tuple[int, InvocationError, int]:
        first = (await _answer(runner, "ShortFunction"))["pid"]
        with pytest.raises(InvocationError) as timed_out:
            await _answer(runner, "ShortFunction", sleep=30)
        return first, timed_out.value, (await _answer(runner, "ShortFunction"))["pid"]

    first, error, replacement = _run(scenario)
    assert error.error_type == "Sandbox.Timedout"
    assert "timed out after 1.00 seconds" in str(error)
    assert replacement != first
    assert _wait_until(lambda: not process_alive(first))


def test_an_environment_that_exits_is_replaced():
    async def scenario(runner: EnvironmentRunner) -> tuple[int, InvocationError, int]:
        first = (await _answer(runner, "CrashFunction"))["pid"]
        with pytest.raises(InvocationError) as crashed:
            await _answer(runner, "CrashFunction", crash=True)
        return first, crashed.value, (await _answer(runner, "CrashFunction"))["pid"]

    first, error, replacement = _run(scenario)
    assert error.error_type == "Runtime.ExitError"
    assert "exit status 3" in str(error)
    assert replacement != first


def test_a_handler_that_cannot_be_loaded_fails_its_invocation():
    async def scenario(runner: EnvironmentRunner) -> InvocationError:
        with pytest.raises(InvocationError) as failed:
            await runner.invoke("BrokenFunction", _message())
        return failed.value

    assert _run(scenario).error_type == "Runtime.HandlerNotFound"


def test_every_invocation_logs_a_report_line(caplog):
    caplog.set_level(logging.INFO, logger="parley_dev.gateway.environments")

    async def scenario(runner: EnvironmentRunner) -> list[str]:
        cold = await _answer(runner, "StateFunction")
        warm = await _answer(runner, "StateFunction")
        return [cold["requestId"], warm["requestId"]]

    cold_id, warm_id = _run(scenario)
    reports = [r.getMessage() for r in caplog.records if " REPORT RequestId: " in r.getMessage()]
    cold, warm = (next(line for line in reports if rid in line) for rid in (cold_id, warm_id))
    for line in (cold, warm):
        assert line.startswith("StateFunction REPORT")
        assert "Duration: " in line and "Memory Size: 192 MB" in line
        assert "Max Memory Used: " in line
    assert "Init Duration: " in cold
    assert "Init Duration: " not in warm


def test_stopping_the_runner_ends_every_environment(tmp_path):
    async def scenario(runner: EnvironmentRunner) -> list[int]:
        return [
            (await _answer(runner, "StateFunction"))["pid"],
            (await _answer(runner, "CrashFunction"))["pid"],
        ]

    pids = _run(scenario)
    assert all(not process_alive(pid) for pid in pids)


def test_a_crashing_handler_does_not_take_the_gateway_or_the_socket_down():
    options = GatewayOptions(run_event_sources=False, run_schedules=False)
    server = GatewayServer(create_app(TEMPLATE, options=options))
    with server, open_client(server) as client:
        client.send(json.dumps({"crash": True}))
        failure = json.loads(client.recv(timeout=30))
        client.send(json.dumps({"hello": True}))
        after = json.loads(client.recv(timeout=30))
    assert failure["message"] == "Internal server error"
    assert after["pid"]


def test_provisioned_environments_are_ready_before_the_first_invocation(caplog):
    caplog.set_level(logging.INFO, logger="parley_dev.gateway.environments")

    async def scenario(runner: EnvironmentRunner) -> tuple[int, dict]:
        environments = runner.environments("StateFunction")
        deadline = time.monotonic() + 60
        while not environments.idle and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        ready = len(environments.idle)
        return ready, await _answer(runner, "StateFunction")

    ready, first = _run(scenario, provisioned_environments=1)
    assert ready == 1
    # As on Lambda, a provisioned environment's first invocation is no cold start.
    assert first["coldStart"] is False
    (report,) = [r.getMessage() for r in caplog.records if first["requestId"] in r.getMessage()]
    assert "Init Duration" not in report


def test_idle_environments_are_reaped_but_provisioned_ones_are_kept(tmp_path):
    started, release = tmp_path / "started", tmp_path / "release"
    started.mkdir()

    async def scenario(runner: EnvironmentRunner) -> tuple[int, list[bool]]:
        environments = runner.environments("CrashFunction")
        while not environments.idle:  # the provisioned one
            await asyncio.sleep(0.05)
        hold = {"startedDir": str(started), "holdUntil": str(release)}
        both = [asyncio.ensure_future(_answer(runner, "CrashFunction", **hold)) for _ in range(2)]
        await _wait_for_files(started, 2)
        release.touch()
        await asyncio.gather(*both)
        peak = len(environments.live)
        deadline = time.monotonic() + 30
        while len(environments.live) > 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return peak, [e.provisioned for e in environments.live]

    peak, left = _run(scenario, provisioned_environments=1, environment_idle_seconds=0.2)
    assert peak == 2
    assert left == [True]
