"""Fixtures for the deployment checks: the template as CloudFormation reads it,
a stand-in for CloudFormation's response URL, and moto for Secrets Manager."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
FUNCTIONS_DIR = ROOT / "functions"
EVENTS_DIR = ROOT / "tests" / "events"


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    """template.yaml with its short-form intrinsics (!Ref, !Sub...) as plain dicts."""
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse(TEMPLATE_PATH.read_text())


@dataclass
class CloudFormationResponses:
    """What a custom resource PUT to its ResponseURL, as CloudFormation would receive it."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    content_types: list[str | None] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def only(self) -> dict[str, Any]:
        assert len(self.received) == 1, self.received
        return self.received[0]


@pytest.fixture
def cloudformation() -> Iterator[CloudFormationResponses]:
    responses: CloudFormationResponses

    class ResponseUrl(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers["Content-Length"])
            responses.received.append(json.loads(self.rfile.read(length)))
            responses.content_types.append(self.headers.get("Content-Type"))
            self.send_response(200)
            self.end_headers()
            responses.arrived.set()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), ResponseUrl)
    responses = CloudFormationResponses(
        url=f"http://127.0.0.1:{server.server_port}/stack-response?X-Amz-Signature=abc"
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield responses
    finally:
        server.shutdown()
        server.server_close()


def custom_resource_event(request_type: str, response_url: str) -> dict[str, Any]:
    event = json.loads(
        (EVENTS_DIR / f"cfn_custom_resource_{request_type.lower()}.json").read_text()
    )
    event["ResponseURL"] = response_url
    return event


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in place of AWS, and Powertools' cached providers forgotten on both sides."""
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters import base
    from moto import mock_aws

    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    parameters.clear_caches()
    base.DEFAULT_PROVIDERS.clear()
    with mock_aws():
        yield
    parameters.clear_caches()
    base.DEFAULT_PROVIDERS.clear()


@pytest.fixture
def settings_from_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Change environment variables in a test; settings and engine follow, then come back."""
    from parley.config import get_settings
    from parley.db import reset_engine

    get_settings.cache_clear()
    reset_engine()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()
    reset_engine()
