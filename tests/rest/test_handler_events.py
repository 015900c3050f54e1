"""The sample events in tests/events (real API Gateway HTTP API shapes) through the handler."""

from __future__ import annotations

import json
from pathlib import Path

from tests.rest.conftest import EVENTS, Account, RestApi, seed_messages


def load_event(name: str, **placeholders: str) -> dict:
    text = (EVENTS / name).read_text()
    for placeholder, value in placeholders.items():
        text = text.replace(placeholder, value)
    return json.loads(text)


def test_the_register_sample_creates_an_account(api: RestApi) -> None:
    response = api.invoke(load_event("http_post_auth_register.json"))

    assert response.status == 201
    assert response.json["user"]["username"] == "ada"


def test_the_base64_login_sample_signs_in(api: RestApi) -> None:
    api.invoke(load_event("http_post_auth_register.json"))

    response = api.invoke(load_event("http_post_auth_login_base64.json"))

    assert response.status == 200
    assert response.json["user"]["displayName"] == "Ada"
    assert response.headers["content-type"] == "application/json"


def test_the_chats_sample_lists_the_callers_chats(
    api: RestApi, alice: Account, bob: Account
) -> None:
    api.post(
        "/chats", token=alice.access_token, body={"type": "direct", "memberIds": [str(bob.id)]}
    )

    response = api.invoke(load_event("http_get_chats.json", ACCESS_TOKEN=alice.access_token))

    assert response.status == 200
    assert len(response.json["chats"]) == 1


def test_the_history_sample_reads_one_page_before_a_seq(
    api: RestApi, alice: Account, bob: Account
) -> None:
    chat = api.post(
        "/chats", token=alice.access_token, body={"type": "direct", "memberIds": [str(bob.id)]}
    ).json
    seed_messages(chat["id"], bob.id, [alice.id], 60)

    response = api.invoke(
        load_event(
            "http_get_chat_messages.json", ACCESS_TOKEN=alice.access_token, CHAT_ID=chat["id"]
        )
    )

    assert response.status == 200
    assert [m["seq"] for m in response.json["messages"]] == list(range(50, 0, -1))
    assert response.json["nextBefore"] is None


def test_the_samples_are_api_gateway_http_api_payload_v2(api: RestApi) -> None:
    from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model

    for path in sorted(Path(EVENTS).glob("http_*.json")):
        event = APIGatewayProxyEventV2Model.model_validate(json.loads(path.read_text()))
        assert event.version == "2.0", path.name
