"""load_wiring reads SAM and raw API Gateway v2 resources, as deploys would wire them."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley_dev.gateway import load_wiring

from .conftest import FIXTURE_TEMPLATE

pytestmark = pytest.mark.unit

PROJECT_TEMPLATE = Path(__file__).parents[2] / "template.yaml"


def test_websocket_routes_follow_integrations_back_to_functions():
    wiring = load_wiring(FIXTURE_TEMPLATE)
    chat = next(api for api in wiring.websocket_apis if api.logical_id == "ChatApi")
    assert chat.stage == "ws"
    assert chat.route_selection_expression == "$request.body.action"
    assert chat.routes["$connect"].function == "ConnectFunction"
    assert chat.routes["echo"].two_way and not chat.routes["silent"].two_way


def test_parameter_overrides_reach_stage_and_environment():
    wiring = load_wiring(FIXTURE_TEMPLATE, {"Stage": "dev", "Greeting": "hi"})
    assert {api.stage for api in wiring.websocket_apis} == {"dev", "services"}
    echo = wiring.function("EchoFunction")
    assert echo.environment["FIXTURE_GREETING"] == "hi"
    assert echo.environment["FIXTURE_ROLE"] == "echo"
    assert "FIXTURE_UNSET" in echo.empty_variables


def test_project_template_wiring():
    wiring = load_wiring(PROJECT_TEMPLATE)
    (api,) = wiring.websocket_apis
    assert api.stage == "ws"
    assert api.routes["message"].function == "MessageFunction"
    assert api.routes["$default"].two_way
    (route,) = wiring.http_routes
    assert (route.route_key, route.function) == ("ANY /api/{proxy+}", "RestFunction")
    rest = wiring.function("RestFunction")
    assert rest.code_dir.name == "rest" and rest.handler == "app.handler"
    assert rest.environment["PARLEY_API_BASE_PATH"] == "/api"
    assert "DATABASE_URL" in rest.empty_variables  # empty parameter: not applied
    groups = {m.consumer_group_id for m in wiring.kafka_mappings}
    assert "parley-analytics-message.created" in groups
    assert any(s.expression == "rate(1 minute)" for s in wiring.schedules)


def test_resources_whose_condition_is_false_are_not_wired() -> None:
    self_managed = load_wiring(PROJECT_TEMPLATE)
    assert "AnalyticsFunction" in self_managed.functions
    assert "AnalyticsMskFunction" not in self_managed.functions
    assert {m.event_source for m in self_managed.kafka_mappings} == {"SelfManagedKafka"}

    msk = load_wiring(
        PROJECT_TEMPLATE,
        {"MskClusterArn": "arn:aws:kafka:us-east-1:123456789012:cluster/parley/abc"},
    )
    assert "AnalyticsMskFunction" in msk.functions
    assert "AnalyticsFunction" not in msk.functions
    assert {m.event_source for m in msk.kafka_mappings} == {"aws:kafka"}
