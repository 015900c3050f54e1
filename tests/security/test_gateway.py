"""The dev gateway cannot be hijacked: pushes go where it says, @connections wants SigV4.

Through the real template over real sockets: a client forging its Host
header, a web page posting to @connections, a caller with the wrong keys.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import boto3
import httpx
import pytest

from parley_dev.gateway.sigv4 import (
    BAD_SIGNATURE,
    MISSING_TOKEN,
    UNKNOWN_KEY,
    credentials_the_functions_get,
    sign,
)
from parley_dev.localenv import DUMMY_CREDENTIALS, REGION
from tests.security.conftest import Listener, SignIn, Stack
from tests.support.peers import Peer

LOCAL_KEY = DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]
LOCAL_SECRET = DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]


def connection_id_of(user_id: uuid.UUID) -> str:
    from parley.stores import connections

    (connection_id,) = connections.of_users([user_id])[user_id]
    return connection_id


def management_url(outside: Stack, connection_id: str) -> str:
    return f"{outside.url}/ws/@connections/{quote(connection_id, safe='')}"


def signed(
    method: str, url: str, body: bytes = b"", *, key: str = LOCAL_KEY, secret: str = LOCAL_SECRET
) -> dict[str, str]:
    return sign(method, url, body, access_key=key, secret_key=secret, region=REGION)


def assert_nothing_injected(peer: Peer) -> None:
    """The next thing the socket receives is the ack of a ping: no frame came before it."""
    assert peer.request("ping")["status"] == "ok"
    assert peer.frames == []


def assert_forbidden(response: httpx.Response, message: str) -> None:
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"] == "ForbiddenException"
    assert response.json() == {"message": message}


# --- domainName comes from the gateway, never from the Host header ------------


def test_a_forged_host_header_does_not_redirect_the_pushes_of_its_frames(
    outside: Stack, alice: SignIn, bob: SignIn, attacker_server: Listener
) -> None:
    chat_id = outside.direct_chat(alice, bob)
    bob_peer = outside.open(bob)
    forger = outside.open(alice, claimed_host=f"127.0.0.1:{attacker_server.port}")

    ack = forger.request("message", {"chatId": chat_id, "body": "who gets this push?"})

    assert ack["status"] == "ok"
    assert bob_peer.wait_for("message")["body"] == "who gets this push?"
    # The ack leaves after the handler's pushes: none of them went elsewhere.
    assert attacker_server.requests == []


def test_a_forged_host_header_cannot_get_a_contact_unregistered(
    outside: Stack, alice: SignIn, bob: SignIn, attacker_server: Listener
) -> None:
    outside.direct_chat(alice, bob)
    bob_peer = outside.open(bob)
    forger = outside.open(alice, claimed_host=f"127.0.0.1:{attacker_server.port}")

    # Presence fans out to contacts through the forger's $disconnect's endpoint.
    forger.socket.close()

    bob_peer.wait_for("users:update", lambda data: data["online"] is False)
    assert attacker_server.requests == []


# --- @connections refuses what is not SigV4-signed by the local credentials ----


def test_an_unsigned_post_like_a_web_pages_is_refused_and_injects_nothing(
    outside: Stack, alice: SignIn
) -> None:
    peer = outside.open(alice)
    url = management_url(outside, connection_id_of(alice.user_id))

    response = httpx.post(
        url,
        content=b'{"type":"message","data":{"body":"injected"}}',
        headers={"content-type": "text/plain", "origin": "https://evil.example"},
    )

    assert_forbidden(response, MISSING_TOKEN)
    assert_nothing_injected(peer)


def test_an_unsigned_get_does_not_tell_the_users_address_or_agent(
    outside: Stack, alice: SignIn
) -> None:
    outside.open(alice)

    response = httpx.get(management_url(outside, connection_id_of(alice.user_id)))

    assert_forbidden(response, MISSING_TOKEN)
    assert "sourceIp" not in response.text


def test_an_unsigned_delete_leaves_the_socket_open(outside: Stack, alice: SignIn) -> None:
    peer = outside.open(alice)

    response = httpx.delete(management_url(outside, connection_id_of(alice.user_id)))

    assert_forbidden(response, MISSING_TOKEN)
    assert_nothing_injected(peer)


def test_a_signature_made_with_the_wrong_secret_is_refused(outside: Stack, alice: SignIn) -> None:
    peer = outside.open(alice)
    url, body = management_url(outside, connection_id_of(alice.user_id)), b'{"type":"x"}'

    response = httpx.post(url, content=body, headers=signed("POST", url, body, secret="guess"))

    assert_forbidden(response, BAD_SIGNATURE)
    assert_nothing_injected(peer)


def test_a_body_changed_after_signing_is_refused(outside: Stack, alice: SignIn) -> None:
    peer = outside.open(alice)
    url = management_url(outside, connection_id_of(alice.user_id))
    headers = signed("POST", url, b'{"type":"harmless"}')

    response = httpx.post(url, content=b'{"type":"injected"}', headers=headers)

    assert_forbidden(response, BAD_SIGNATURE)
    assert_nothing_injected(peer)


def test_a_signature_for_another_connection_is_refused(outside: Stack, alice: SignIn) -> None:
    peer = outside.open(alice)
    url = management_url(outside, connection_id_of(alice.user_id))
    headers = signed("POST", management_url(outside, "b3RoZXJjb25uZWN0aW9u"), b"{}")

    response = httpx.post(url, content=b"{}", headers=headers)

    assert_forbidden(response, BAD_SIGNATURE)
    assert_nothing_injected(peer)


def test_unknown_access_keys_are_refused(outside: Stack, alice: SignIn) -> None:
    outside.open(alice)
    url = management_url(outside, connection_id_of(alice.user_id))

    response = httpx.get(url, headers=signed("GET", url, key="AKIAEXAMPLEEXAMPLE"))

    assert_forbidden(response, UNKNOWN_KEY)


def test_boto3_with_the_local_credentials_pushes_describes_and_closes(
    outside: Stack, alice: SignIn
) -> None:
    peer = outside.open(alice)
    connection_id = connection_id_of(alice.user_id)
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"{outside.url}/ws",
        region_name=REGION,
        aws_access_key_id=LOCAL_KEY,
        aws_secret_access_key=LOCAL_SECRET,
    )

    client.post_to_connection(ConnectionId=connection_id, Data=b'{"type":"hello","data":{}}')
    described = client.get_connection(ConnectionId=connection_id)
    client.delete_connection(ConnectionId=connection_id)

    assert described["Identity"]["SourceIp"] == "127.0.0.1"
    code, frames = peer.closed()
    assert frames == [{"type": "hello", "data": {}}]
    assert code == 1000


def test_boto3_with_other_credentials_gets_a_forbidden_exception(
    outside: Stack, alice: SignIn
) -> None:
    outside.open(alice)
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"{outside.url}/ws",
        region_name=REGION,
        aws_access_key_id=LOCAL_KEY,
        aws_secret_access_key="not-the-local-secret",
    )

    with pytest.raises(client.exceptions.ForbiddenException):
        client.post_to_connection(ConnectionId=connection_id_of(alice.user_id), Data=b"{}")


def test_the_functions_sign_with_the_local_dummy_credentials() -> None:
    # The suite, like `make run`, applies parley_dev.localenv's defaults; the
    # gateway accepts what botocore resolves for the functions, and that is them.
    assert credentials_the_functions_get()[LOCAL_KEY] == LOCAL_SECRET


# --- CORS on the HTTP API, as the template's CorsConfiguration says -----------


def test_a_preflight_is_answered_with_the_configured_cors_headers(outside: Stack) -> None:
    response = httpx.options(
        f"{outside.url}/api/users/me/password",
        headers={
            "origin": "https://chat.example.com",
            "access-control-request-method": "PATCH",
            "access-control-request-headers": "authorization, content-type",
        },
    )

    assert response.status_code == 204
    # AllowedOrigins is empty: any origin.
    assert response.headers["access-control-allow-origin"] == "*"
    assert set(response.headers["access-control-allow-methods"].split(",")) == {
        "GET",
        "POST",
        "PATCH",
        "DELETE",
        "OPTIONS",
    }
    assert response.headers["access-control-allow-headers"] == "authorization,content-type"
    assert response.headers["access-control-max-age"] == "600"


def test_a_preflight_asking_for_a_header_not_allowed_gets_no_cors_headers(outside: Stack) -> None:
    response = httpx.options(
        f"{outside.url}/api/chats",
        headers={
            "origin": "https://chat.example.com",
            "access-control-request-method": "POST",
            "access-control-request-headers": "x-not-allowed",
        },
    )

    assert response.status_code == 204
    assert not any(name.startswith("access-control-") for name in response.headers)


def test_responses_to_a_cross_origin_request_carry_the_allow_origin_header(
    outside: Stack, alice: SignIn
) -> None:
    response = httpx.get(
        f"{outside.url}/api/users/me",
        headers={
            "origin": "https://chat.example.com",
            "authorization": f"Bearer {alice.access_token}",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


def test_same_origin_requests_get_no_cors_headers(outside: Stack) -> None:
    response = httpx.get(f"{outside.url}/api/health")

    assert "access-control-allow-origin" not in response.headers
