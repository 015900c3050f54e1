"""GET /api/health through the REST function, with API Gateway HTTP API events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parley_dev.cli import lambda_context, load_function

EVENTS = Path(__file__).resolve().parent.parent / "events"


@pytest.fixture
def health_event() -> dict:
    return json.loads((EVENTS / "http_get_health.json").read_text())


def test_health_answers_200_with_every_service_up(health_event: dict) -> None:
    response = load_function("rest")(health_event, lambda_context("rest"))

    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert body["down"] == []
    assert set(body["services"]) == {"postgres", "redis", "kafka"}
    assert all(service["ok"] for service in body["services"].values())
    assert all(service["latencyMs"] >= 0 for service in body["services"].values())


def test_health_answers_503_naming_the_service_that_is_down(
    health_event: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.clients import reset_clients

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    reset_clients()
    try:
        response = load_function("rest")(health_event, lambda_context("rest"))
    finally:
        monkeypatch.undo()
        reset_clients()

    assert response["statusCode"] == 503
    body = json.loads(response["body"])
    assert body["down"] == ["redis"]
    assert body["services"]["postgres"]["ok"] is True


def test_health_reports_kafka_degraded_while_events_wait_unpublished_past_the_bound(
    health_event: dict,
) -> None:
    import uuid

    from sqlalchemy import text

    from parley.db import get_engine, session_scope
    from parley.events import catalog, emit, publisher

    # Given an event its commit could not publish, older than the bound
    publisher.pause_publishing(60)
    try:
        with session_scope() as session:
            user_id = uuid.uuid4()
            emit(session, catalog.USER_LOGGED_IN, user_id, {"userId": str(user_id)})
    finally:
        publisher.resume_publishing()
    with get_engine().begin() as connection:
        connection.execute(text("UPDATE outbox SET created_at = now() - interval '1 hour'"))

    # When health is asked (the broker itself answers metadata)
    response = load_function("rest")(health_event, lambda_context("rest"))

    # Then Kafka is degraded, saying why
    assert response["statusCode"] == 503
    body = json.loads(response["body"])
    assert body["down"] == ["kafka"]
    assert "not being published" in body["services"]["kafka"]["error"]
    assert body["services"]["kafka"]["oldestUnpublishedSeconds"] >= 3600
