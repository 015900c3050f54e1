"""A function's handler is built on its first invocation, or during Init where Init is free."""

from __future__ import annotations

from typing import Any

import pytest

from parley.coldstart import built_on_first_call

pytestmark = pytest.mark.unit


class Route:
    """A build function that counts its calls and answers with what it was given."""

    def __init__(self, fail_first: bool = False) -> None:
        self.builds = 0
        self.fail_first = fail_first

    def __call__(self) -> Any:
        self.builds += 1
        if self.fail_first and self.builds == 1:
            raise ImportError("the layer is missing a module")
        return lambda event, context: {"event": event, "build": self.builds}


def test_an_on_demand_start_builds_the_route_at_the_first_invocation_and_only_then(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    route = Route()

    handler = built_on_first_call(route)
    assert route.builds == 0 and not handler.loaded

    assert handler({"n": 1}, None) == {"event": {"n": 1}, "build": 1}
    assert handler({"n": 2}, None) == {"event": {"n": 2}, "build": 1}
    assert route.builds == 1 and handler.loaded


@pytest.mark.parametrize("initialization_type", ["snap-start", "provisioned-concurrency"])
def test_where_no_request_waits_for_init_the_route_is_built_during_init(
    monkeypatch, initialization_type
):
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", initialization_type)
    route = Route()

    handler = built_on_first_call(route)

    assert route.builds == 1 and handler.loaded
    assert handler({}, None)["build"] == 1


def test_a_route_that_failed_to_build_is_built_again_at_the_next_invocation(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    route = Route(fail_first=True)
    handler = built_on_first_call(route)

    with pytest.raises(ImportError):
        handler({}, None)

    assert handler({}, None)["build"] == 2


def test_the_handler_keeps_the_name_and_doc_of_what_it_builds(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")

    @built_on_first_call
    def handler():
        """The message route."""
        return lambda event, context: None

    assert handler.__name__ == "handler" and handler.__doc__ == "The message route."
