"""The functions' @connections client against the dev gateway, which checks every signature."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from parley.push import ConnectionsClient

from .conftest import connection_id_of, open_client


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


def test_pushes_from_many_threads_each_reach_the_socket(gateway, credentials) -> None:
    client = ConnectionsClient(f"{gateway.url}/ws")
    with open_client(gateway) as socket_client:
        connection_id = connection_id_of(socket_client)
        frames = [f'{{"n":{n}}}'.encode() for n in range(40)]

        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(
                    lambda f: client.post_to_connection(ConnectionId=connection_id, Data=f), frames
                )
            )
        received = sorted(socket_client.recv(timeout=10) for _ in frames)

    assert {a["ResponseMetadata"]["HTTPStatusCode"] for a in answers} == {200}
    assert received == sorted(f.decode() for f in frames)


def test_a_closed_connection_answers_gone(gateway, credentials) -> None:
    client = ConnectionsClient(f"{gateway.url}/ws")
    with open_client(gateway) as socket_client:
        connection_id = connection_id_of(socket_client)

    with pytest.raises(ClientError) as raised:
        client.post_to_connection(ConnectionId=connection_id, Data=b"late")

    assert raised.value.response["Error"]["Code"] == "GoneException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


def test_a_wrong_secret_is_refused_by_the_signature_check(gateway, credentials, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    client = ConnectionsClient(f"{gateway.url}/ws")
    with open_client(gateway) as socket_client:
        connection_id = connection_id_of(socket_client)

        with pytest.raises(ClientError) as raised:
            client.post_to_connection(ConnectionId=connection_id, Data=b"forged")

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_an_endpoint_that_does_not_answer_is_a_botocore_error(credentials) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    client = ConnectionsClient(f"http://127.0.0.1:{port}/ws")

    with pytest.raises(BotoCoreError):
        client.post_to_connection(ConnectionId="abc=", Data=b"{}")


@pytest.fixture
def closing_server() -> Iterator[tuple[int, list[int]]]:
    """Answers each connection's first request, then closes it while idle."""
    listener = socket.create_server(("127.0.0.1", 0))
    served: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                served.append(1)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                time.sleep(0.05)  # then closed, without a word

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], served
    listener.close()


def test_a_kept_alive_connection_closed_by_the_server_is_replaced(
    closing_server, credentials
) -> None:
    port, served = closing_server
    client = ConnectionsClient(f"http://127.0.0.1:{port}/ws")

    client.post_to_connection(ConnectionId="abc=", Data=b"{}")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(served) < 1:
        time.sleep(0.01)
    time.sleep(0.2)  # the server has closed the idle connection by now
    client.post_to_connection(ConnectionId="abc=", Data=b"{}")

    assert len(served) == 2


def _self_signed(tmp_path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key, as files."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_over_https_pushes_are_signed_for_the_host_and_share_one_connection(
    tmp_path, credentials, monkeypatch
) -> None:
    import ssl

    import parley.push

    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=cert)
    monkeypatch.setattr(parley.push, "_tls_context", lambda: client_tls)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    connections, requests = [], []

    def serve() -> None:
        conn, _ = listener.accept()
        connections.append(conn)
        with server_tls.wrap_socket(conn, server_side=True) as tls:
            buffered = b""
            for _ in range(2):
                while b"\r\n\r\n" not in buffered:
                    buffered += tls.recv(65536)
                head, buffered = buffered.split(b"\r\n\r\n", 1)
                length = int(
                    next(
                        line.split(b":")[1]
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    )
                )
                while len(buffered) < length:
                    buffered += tls.recv(65536)
                requests.append((head.decode(), buffered[:length]))
                buffered = buffered[length:]
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = ConnectionsClient(f"https://127.0.0.1:{port}/prod")

    for body in (b'{"n":1}', b'{"n":2}'):
        client.post_to_connection(ConnectionId="abc/def=", Data=body)
    thread.join(10)
    listener.close()

    assert len(connections) == 1
    assert [body for _head, body in requests] == [b'{"n":1}', b'{"n":2}']
    head = requests[0][0].split("\r\n")
    assert head[0] == "POST /prod/@connections/abc%2Fdef%3D HTTP/1.1"
    headers = dict(line.split(": ", 1) for line in head[1:])
    assert headers["Host"] == f"127.0.0.1:{port}"
    assert "SignedHeaders=host;x-amz-date, Signature=" in headers["Authorization"]
