"""@connections answers boto3's apigatewaymanagementapi client as AWS does."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from parley_dev.gateway.sigv4 import sign

from .conftest import connection_id_of, open_client


def test_broadcast_through_boto3_reaches_two_clients(gateway):
    with open_client(gateway) as alice, open_client(gateway) as bob:
        ids = [connection_id_of(alice), connection_id_of(bob)]
        alice.send(json.dumps({"action": "broadcast", "to": ids, "data": "hi all"}))
        assert alice.recv(timeout=10) == "hi all"
        assert json.loads(alice.recv(timeout=10)) == {"gone": []}
        assert bob.recv(timeout=10) == "hi all"


def test_post_pushes_a_text_or_binary_frame(gateway, management):
    with open_client(gateway) as client:
        connection_id = connection_id_of(client)
        management.post_to_connection(ConnectionId=connection_id, Data=b'{"type":"hello"}')
        management.post_to_connection(ConnectionId=connection_id, Data=b"\xff\x00")
        assert client.recv(timeout=10) == '{"type":"hello"}'
        assert client.recv(timeout=10) == b"\xff\x00"


def test_get_describes_the_connection(gateway, management):
    with open_client(gateway, user_agent_header="fixture-agent/1.0") as client:
        connection_id = connection_id_of(client)
        described = management.get_connection(ConnectionId=connection_id)
    assert isinstance(described["ConnectedAt"], dt.datetime)
    assert described["LastActiveAt"] >= described["ConnectedAt"]
    assert described["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "fixture-agent/1.0"}


def test_closed_connection_answers_gone(gateway, management):
    with open_client(gateway) as client:
        connection_id = connection_id_of(client)
    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection_id, Data=b"late")
    with pytest.raises(management.exceptions.GoneException):
        management.get_connection(ConnectionId=connection_id)


def test_delete_closes_the_socket_then_answers_gone(gateway, management, journal):
    with open_client(gateway) as client:
        connection_id = connection_id_of(client)
        management.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            client.recv(timeout=10)
        disconnects = journal.wait_for(lambda: journal.for_connection("disconnect", connection_id))
    assert len(disconnects) == 1
    with pytest.raises(management.exceptions.GoneException):
        management.delete_connection(ConnectionId=connection_id)


def test_broadcast_reports_closed_ids_as_gone(gateway):
    with open_client(gateway) as gone:
        gone_id = connection_id_of(gone)
    with open_client(gateway) as client:
        client.send(json.dumps({"action": "broadcast", "to": [gone_id], "data": "x"}))
        assert json.loads(client.recv(timeout=10)) == {"gone": [gone_id]}


def test_post_over_128_kb_is_payload_too_large(gateway, management):
    with open_client(gateway) as client:
        connection_id = connection_id_of(client)
        with pytest.raises(management.exceptions.PayloadTooLargeException):
            management.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1))


def test_errors_carry_the_amazon_error_type_header(gateway):
    unknown = quote("AAAAAAAAAAAAAAA=", safe="")
    url = f"{gateway.url}/ws/@connections/{unknown}"
    signed = sign("POST", url, b"x", access_key="local", secret_key="local", region="us-east-1")
    response = httpx.post(url, content=b"x", headers=signed)
    assert response.status_code == 410
    assert response.headers["x-amzn-ErrorType"] == "GoneException"
    assert "message" in response.json()


def test_ids_with_slash_and_plus_are_url_decoded(gateway, management):
    # Ids are random; open clients until one holds a "/" or "+" (a few tries).
    for _ in range(64):
        with open_client(gateway) as client:
            connection_id = connection_id_of(client)
            if "/" in connection_id or "+" in connection_id:
                management.post_to_connection(ConnectionId=connection_id, Data=b"found")
                assert client.recv(timeout=10) == "found"
                return
    pytest.fail("no id with / or + in 64 connections")
