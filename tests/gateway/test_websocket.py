"""The WebSocket API behaves as API Gateway's: events, routes, errors, limits."""

from __future__ import annotations

import base64
import json
import re
import time

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from websockets.exceptions import ConnectionClosed, InvalidStatus

from parley_dev.gateway import GatewayOptions, GatewayServer, create_app

from .conftest import FIXTURE_TEMPLATE, Journal, connection_id_of, open_client

AWS_ID = re.compile(r"^[A-Za-z0-9+/]{15}=$")


def test_events_have_the_api_gateway_shape_and_validate_with_powertools(gateway, journal):
    with open_client(gateway, query="token=abc&tag=1&tag=2") as client:
        connection_id = connection_id_of(client)
    connect = journal.wait_for(lambda: journal.for_connection("connect", connection_id))[0]["event"]
    message = journal.wait_for(lambda: journal.for_connection("message", connection_id))[0]["event"]
    disconnect = journal.wait_for(lambda: journal.for_connection("disconnect", connection_id))
    disconnect_event = disconnect[0]["event"]

    APIGatewayWebSocketConnectEventModel.model_validate(connect)
    APIGatewayWebSocketMessageEventModel.model_validate(message)
    APIGatewayWebSocketDisconnectEventModel.model_validate(disconnect_event)

    context = connect["requestContext"]
    assert AWS_ID.match(connection_id)
    assert context["routeKey"] == "$connect" and context["eventType"] == "CONNECT"
    assert context["stage"] == "ws"
    assert context["domainName"] == gateway.domain_name
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["connectedAt"] <= context["requestTimeEpoch"]
    assert connect["headers"]["Host"] == gateway.domain_name
    assert connect["queryStringParameters"] == {"token": "abc", "tag": "2"}
    assert connect["multiValueQueryStringParameters"]["tag"] == ["1", "2"]

    assert message["requestContext"]["eventType"] == "MESSAGE"
    assert message["requestContext"]["messageDirection"] == "IN"
    assert AWS_ID.match(message["requestContext"]["messageId"])
    assert message["requestContext"]["connectedAt"] == context["connectedAt"]
    assert message["requestContext"]["connectedAt"] <= message["requestContext"]["requestTimeEpoch"]
    assert disconnect_event["requestContext"]["disconnectStatusCode"] == 1000


def test_route_selected_by_action(gateway):
    with open_client(gateway) as client:
        client.send(json.dumps({"action": "echo", "n": 1}))
        reply = json.loads(client.recv(timeout=10))
    assert reply["route"] == "echo"
    assert json.loads(reply["body"]) == {"action": "echo", "n": 1}


@pytest.mark.parametrize("frame", ['{"action": "nope"}', "not json at all", '{"no": "action"}'])
def test_unknown_action_or_non_json_goes_to_default(gateway, frame):
    with open_client(gateway) as client:
        client.send(frame)
        reply = json.loads(client.recv(timeout=10))
    assert reply["route"] == "$default"
    assert reply["body"] == frame


def test_binary_frames_arrive_base64_encoded(gateway):
    with open_client(gateway) as client:
        client.send(b"\x00\x01\xff")
        reply = json.loads(client.recv(timeout=10))
    assert reply["isBase64Encoded"] is True
    assert base64.b64decode(reply["body"]) == b"\x00\x01\xff"


def test_one_way_route_sends_nothing_back(gateway):
    with open_client(gateway) as client:
        client.send(json.dumps({"action": "silent"}))
        client.send(json.dumps({"action": "echo", "after": "silent"}))
        reply = json.loads(client.recv(timeout=10))
    assert reply["route"] == "echo"


def test_nested_route_selection_expression(gateway):
    with open_client(gateway, stage="services") as client:
        client.send(json.dumps({"service": {"do": "ping"}}))
        reply = json.loads(client.recv(timeout=10))
    assert reply["route"] == "ping"


def test_no_route_and_no_default_answers_forbidden(gateway):
    with open_client(gateway, stage="services") as client:
        client.send(json.dumps({"service": {"do": "unknown"}}))
        reply = json.loads(client.recv(timeout=10))
        connection_id = reply["connectionId"]
    assert reply["message"] == "Forbidden"
    assert AWS_ID.match(connection_id)
    assert reply["requestId"]


def test_handler_exception_answers_internal_server_error(gateway):
    with open_client(gateway) as client:
        connection_id = connection_id_of(client)
        client.send(json.dumps({"action": "fail"}))
        reply = json.loads(client.recv(timeout=10))
    assert reply["message"] == "Internal server error"
    assert reply["connectionId"] == connection_id
    assert reply["requestId"]


@pytest.mark.parametrize(("refuse", "status"), [("401", 401), ("403", 403), ("raise", 500)])
def test_connect_refusal_is_an_http_error_without_socket(gateway, refuse, status):
    with pytest.raises(InvalidStatus) as refused:
        open_client(gateway, query=f"refuse={refuse}")
    assert refused.value.response.status_code == status


def test_connect_can_select_a_subprotocol(gateway):
    with open_client(gateway, subprotocols=["parley.v1", "other"]) as client:
        assert client.subprotocol == "parley.v1"


def test_template_environment_applies_with_globals_and_skips_empty(gateway):
    with open_client(gateway) as client:
        client.send(json.dumps({"action": "echo"}))
        reply = json.loads(client.recv(timeout=10))
    assert reply["greeting"] == "hello"
    assert reply["role"] == "echo"
    assert reply["unsetApplied"] is False
    assert 0 < reply["remainingMs"] <= 10_000


def test_frames_of_one_connection_are_invoked_in_order(gateway):
    with open_client(gateway) as client:
        client.send(json.dumps({"action": "slow", "seconds": 0.3, "seq": 1}))
        client.send(json.dumps({"action": "slow", "seconds": 0.0, "seq": 2}))
        client.send(json.dumps({"action": "echo", "seq": 3}))
        replies = [json.loads(client.recv(timeout=10)) for _ in range(3)]
    assert [r.get("seq") for r in replies[:2]] == [1, 2]
    assert replies[2]["route"] == "echo"


def test_connections_are_served_concurrently(gateway):
    with open_client(gateway) as slow, open_client(gateway) as fast:
        slow.send(json.dumps({"action": "slow", "seconds": 2, "seq": 1}))
        time.sleep(0.05)
        fast.send(json.dumps({"action": "echo"}))
        # The fast client is answered while the slow one's handler still runs.
        assert json.loads(fast.recv(timeout=1.5))["route"] == "echo"
        assert json.loads(slow.recv(timeout=10))["seq"] == 1


def test_frame_over_128_kb_closes_with_1009_and_runs_disconnect(gateway, journal):
    with open_client(gateway) as client:
        connection_id = connection_id_of(client)
        client.send("x" * (128 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=10)
    assert closed.value.rcvd.code == 1009
    disconnects = journal.wait_for(lambda: journal.for_connection("disconnect", connection_id))
    assert disconnects[0]["event"]["requestContext"]["disconnectStatusCode"] == 1009


def test_frame_of_exactly_128_kb_is_accepted(gateway):
    with open_client(gateway) as client:
        client.send(json.dumps({"action": "echo", "pad": "x" * (128 * 1024 - 40)}).ljust(0))
        assert json.loads(client.recv(timeout=10))["route"] == "echo"


def test_client_that_vanishes_still_gets_its_disconnect(gateway, journal):
    with open_client(gateway) as client:
        connection_id = connection_id_of(client)
        client.socket.close()  # no close frame: a dropped TCP connection
        disconnects = journal.wait_for(lambda: journal.for_connection("disconnect", connection_id))
    assert len(disconnects) == 1
    # The ASGI server reports a drop as "no status" (1005); API Gateway says 1006.
    assert disconnects[0]["event"]["requestContext"]["disconnectStatusCode"] in {1005, 1006}


def test_idle_connection_expires_and_disconnect_runs_once(journal):
    options = GatewayOptions(idle_timeout_seconds=0.5, run_event_sources=False, run_schedules=False)
    with GatewayServer(create_app(FIXTURE_TEMPLATE, options=options)) as server:
        known = {e["event"]["requestContext"]["connectionId"] for e in journal.entries("connect")}
        # The client says nothing: the socket is idle from the start.
        with open_client(server) as client, pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=30)
        assert closed.value.rcvd.code == 1001
        (connection_id,) = {
            e["event"]["requestContext"]["connectionId"] for e in journal.entries("connect")
        } - known
        found = journal.wait_for(lambda: journal.for_connection("disconnect", connection_id))
        time.sleep(0.2)  # room for a (wrong) second $disconnect to show up
        assert len(journal.for_connection("disconnect", connection_id)) == len(found) == 1


def test_graceful_shutdown_closes_sockets_with_1001_and_runs_disconnect(journal: Journal):
    options = GatewayOptions(run_event_sources=False, run_schedules=False)
    server = GatewayServer(create_app(FIXTURE_TEMPLATE, options=options)).start()
    with open_client(server) as client:
        connection_id = connection_id_of(client)
        server.stop()
        with pytest.raises(ConnectionClosed) as closed:
            client.recv(timeout=10)
    assert closed.value.rcvd.code == 1001
    disconnects = journal.for_connection("disconnect", connection_id)
    assert len(disconnects) == 1
    assert disconnects[0]["event"]["requestContext"]["disconnectStatusCode"] == 1001


def test_a_frame_nested_too_deep_to_parse_goes_to_default_and_the_connection_goes_on(gateway):
    deep = "[" * 10_000
    with open_client(gateway) as client:
        client.send(deep)
        reply = json.loads(client.recv(timeout=10))
        assert reply["route"] == "$default"
        assert reply["body"] == deep
        # Still served
        client.send(json.dumps({"action": "echo", "n": 2}))
        assert json.loads(client.recv(timeout=10))["route"] == "echo"


def test_a_connection_with_too_many_frames_waiting_is_closed_with_1008(journal):
    options = GatewayOptions(max_queued_frames=3, run_event_sources=False, run_schedules=False)
    with GatewayServer(create_app(FIXTURE_TEMPLATE, options=options)) as server:
        with open_client(server) as client:
            connection_id = connection_id_of(client)
            # Twenty frames while the first takes a second: more than three wait.
            for seq in range(20):
                client.send(json.dumps({"action": "slow", "seconds": 1, "seq": seq}))
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    client.recv(timeout=10)
        assert closed.value.rcvd.code == 1008
        disconnects = journal.wait_for(lambda: journal.for_connection("disconnect", connection_id))
        assert disconnects[0]["event"]["requestContext"]["disconnectStatusCode"] == 1008


def test_frames_waiting_within_the_bound_are_all_served(journal):
    options = GatewayOptions(max_queued_frames=3, run_event_sources=False, run_schedules=False)
    server = GatewayServer(create_app(FIXTURE_TEMPLATE, options=options))
    with server, open_client(server) as client:
        for seq in range(3):  # at most three waiting, however fast they come
            client.send(json.dumps({"action": "slow", "seconds": 0.2, "seq": seq}))
        replies = [json.loads(client.recv(timeout=10)) for _ in range(3)]
    assert [reply["seq"] for reply in replies] == [0, 1, 2]
