"""Requests under the HTTP API's paths reach the function as payload 2.0 events."""

from __future__ import annotations

import base64

import httpx
import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from parley_dev.gateway import GatewayOptions, GatewayServer, create_app

from .conftest import FIXTURE_TEMPLATE


@pytest.fixture
def http(gateway):
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        yield client


def test_request_becomes_a_version_2_event(http, gateway):
    response = http.post(
        "/api/event?a=1&a=2&b=x",
        content=b'{"hi": 1}',
        headers={"X-Custom": "one", "Cookie": "s=abc; t=def", "User-Agent": "fixture"},
    )
    event = response.json()
    APIGatewayProxyEventV2Model.model_validate(event)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /api/{proxy+}"
    assert event["rawPath"] == "/api/event"
    assert event["rawQueryString"] == "a=1&a=2&b=x"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x"}
    assert event["pathParameters"] == {"proxy": "event"}
    assert event["cookies"] == ["s=abc", "t=def"]
    assert event["headers"]["x-custom"] == "one"
    assert "cookie" not in event["headers"]
    assert event["body"] == '{"hi": 1}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"] == {
        "method": "POST", "path": "/api/event", "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1", "userAgent": "fixture",
    }
    assert context["stage"] == "$default"
    assert context["routeKey"] == "ANY /api/{proxy+}"
    assert context["domainName"] == gateway.domain_name
    assert context["timeEpoch"] > 0 and context["requestId"]


def test_binary_request_body_is_base64(http):
    event = http.put("/api/event", content=b"\xff\x00\xfe").json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\x00\xfe"


def test_proxy_result_maps_status_headers_and_cookies(http):
    response = http.get("/api/event")
    assert response.status_code == 201
    assert response.headers["x-fixture"] == "yes"
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; HttpOnly"]


def test_base64_result_is_decoded(http):
    response = http.get("/api/binary")
    assert response.content == b"\x00\xffbinary"
    assert response.headers["content-type"] == "application/octet-stream"


def test_multi_value_headers_are_all_sent(http):
    assert http.get("/api/multi").headers.get_list("x-many") == ["1", "2"]


def test_result_without_status_code_is_a_json_200(http):
    response = http.get("/api/dict")
    assert response.status_code == 200
    assert response.json() == {"hello": "world"}
    assert response.headers["content-type"] == "application/json"
    assert http.get("/api/string").text == "just a string"


def test_handler_exception_is_a_500(http):
    response = http.get("/api/explode")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_paths_outside_the_api_are_not_found(http):
    assert http.get("/elsewhere").status_code == 404


def test_web_dir_is_served_at_the_root_below_the_apis(tmp_path, journal):
    (tmp_path / "index.html").write_text("<h1>client</h1>")
    options = GatewayOptions(run_event_sources=False, run_schedules=False)
    app = create_app(FIXTURE_TEMPLATE, options=options, web_dir=tmp_path)
    with GatewayServer(app) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/").text == "<h1>client</h1>"
        assert client.get("/api/dict").json() == {"hello": "world"}
