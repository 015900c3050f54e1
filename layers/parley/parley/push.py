"""The @connections client: push frames to connections, fan out, drop on 410.

Handlers never hold sockets. They push through the API Gateway management
API (`PostToConnection`), the same code on AWS and locally: the endpoint
comes from the event (`https://{domainName}/{stage}`, or `http://` for the
dev gateway, whose domain carries a port or is a loopback host).

A push is one SigV4-signed POST (`parley.sigv4`, with botocore's
credentials) on a kept-alive connection per thread (the standard library's
`http.client`): about a seventh of the CPU of boto3's `post_to_connection`,
whose request pipeline dominated a big group's fan-out. Closing a
connection, which is rare, goes through boto3's `apigatewaymanagementapi`
client.

A connection that answers 410 (`GoneException`) is closed: it is removed
from Redis at once and counts as not delivered.
"""

from __future__ import annotations

import json
import os
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError

from parley.observability import logger, metrics
from parley.sigv4 import signed_post_headers

if TYPE_CHECKING:
    import http.client
    import ssl
from parley.snapstart import holds_connections
from parley.stores import connections

_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_FAN_OUT_THREADS = 16

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def endpoint_url(domain_name: str, stage: str) -> str:
    """The management API endpoint of the API that sent the event."""
    local = ":" in domain_name or domain_name in _LOOPBACK_HOSTS
    scheme = "http" if local else "https"
    return f"{scheme}://{domain_name}/{stage}"


class ConnectionsClient:
    """`post_to_connection` and `delete_connection` of the management API, for one endpoint.

    Errors are boto3's: a `ClientError` carrying the HTTP status and the
    error code (410 `GoneException`), or a `BotoCoreError` when the endpoint
    cannot be reached.
    """

    def __init__(self, endpoint: str) -> None:
        # Imported with the first client, not with the module (cold start).
        import http.client

        import boto3

        self._http = http.client
        self.endpoint = endpoint.rstrip("/")
        parts = urlsplit(self.endpoint)
        self._https = parts.scheme == "https"
        default_port = 443 if self._https else 80
        self._address = (parts.hostname or "", parts.port or default_port)
        # The Host header, and what the signature covers: no port when it is the default.
        self._host = parts.netloc if parts.port not in (None, default_port) else parts.hostname
        self._stage_path = parts.path
        self._region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        self._session = boto3.Session(region_name=self._region)
        self._credentials = self._session.get_credentials()
        # One kept-alive connection per thread (the fan-out pool's and the caller's).
        self._local = threading.local()
        self._boto_client: Any = None

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        if self._credentials is None:
            raise NoCredentialsError()
        credentials = self._credentials.get_frozen_credentials()
        path = f"{self._stage_path}/@connections/{quote(ConnectionId, safe='')}"
        headers = signed_post_headers(
            host=self._host,
            path=path,
            body=Data,
            region=self._region or "us-east-1",
            service="execute-api",
            access_key=credentials.access_key,
            secret_key=credentials.secret_key,
            token=credentials.token,
        )
        status, error_type, body = self._exchange(path, {"Host": self._host, **headers}, Data)
        if status >= 300:
            code = error_type.split(":")[0]
            if not code:
                code = "GoneException" if status == 410 else str(status)
            raise ClientError(
                {
                    "Error": {"Code": code, "Message": body[:200].decode(errors="replace")},
                    "ResponseMetadata": {"HTTPStatusCode": status},
                },
                "PostToConnection",
            )
        return {"ResponseMetadata": {"HTTPStatusCode": status}}

    def _exchange(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        """One POST on this thread's kept-alive connection: status, x-amzn-ErrorType, body.

        A connection that cannot be opened is tried once more; a request that
        may have reached the API is never sent twice.
        """
        connection = self._connection()
        try:
            with _one_segment(connection.sock):
                connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, self._http.HTTPException) as error:
            connection.close()
            self._local.connection = None
            raise HTTPClientError(error=error) from error
        if response.will_close:
            connection.close()
            self._local.connection = None
        return response.status, response.getheader("x-amzn-ErrorType", ""), data

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is not None and not _dropped(connection):
            return connection
        if connection is not None:
            connection.close()
        for attempt in (1, 2):
            connection = self._new_connection()
            try:
                connection.connect()
                break
            except OSError as error:
                connection.close()
                if attempt == 2:
                    raise HTTPClientError(error=error) from error
        connection.sock.settimeout(_READ_TIMEOUT)
        # http.client writes the headers and the body apart: without this, the
        # body could wait for the ack of the headers (Nagle and delayed acks)
        # where the request cannot leave in one segment (`_one_segment`).
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._local.connection = connection
        return connection

    def _new_connection(self) -> http.client.HTTPConnection:
        host, port = self._address
        if self._https:
            return self._http.HTTPSConnection(
                host, port, timeout=_CONNECT_TIMEOUT, context=_tls_context()
            )
        return self._http.HTTPConnection(host, port, timeout=_CONNECT_TIMEOUT)

    def delete_connection(self, *, ConnectionId: str) -> dict[str, Any]:
        if self._boto_client is None:
            from botocore.config import Config

            self._boto_client = self._session.client(
                "apigatewaymanagementapi",
                endpoint_url=self.endpoint,
                config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2}),
            )
        return self._boto_client.delete_connection(ConnectionId=ConnectionId)


_CONNECT_TIMEOUT = 2.0
_READ_TIMEOUT = 5.0


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Closed by the other end while idle (readable now means EOF or garbage)."""
    sock = connection.sock
    if sock is None:
        return True
    # poll, not select: a process may hold more than 1,024 descriptors (the dev
    # gateway's in-process mode runs the functions next to every client socket).
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


@contextmanager
def _one_segment(sock: socket.socket) -> Iterator[None]:
    """Writes made inside leave together (Linux's TCP_CORK): http.client writes a
    request's headers and body apart, and each write would wake the gateway."""
    cork = getattr(socket, "TCP_CORK", None)
    if cork is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        yield
        return
    sock.setsockopt(socket.IPPROTO_TCP, cork, 1)
    try:
        yield
    finally:
        sock.setsockopt(socket.IPPROTO_TCP, cork, 0)


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    import ssl

    from botocore.httpsession import where

    return ssl.create_default_context(cafile=where())


@lru_cache(maxsize=8)
def management_client(endpoint: str) -> ConnectionsClient:
    """One client per endpoint, created on first push (never at import)."""
    return ConnectionsClient(endpoint)


# Its kept-alive HTTPS connections must not outlive a SnapStart snapshot.
holds_connections(management_client.cache_clear)


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=_FAN_OUT_THREADS, thread_name_prefix="parley-push"
            )
        return _executor


def _is_gone(error: ClientError) -> bool:
    details = error.response.get("Error", {})
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return details.get("Code") == "GoneException" or status == 410


def encode(frame: Mapping[str, Any]) -> bytes:
    return json.dumps(frame, separators=(",", ":"), default=str).encode()


@dataclass
class FanOutResult:
    delivered: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)
    # Answered 410 while still connecting: kept, not delivered (it catches up on its first frame).
    connecting: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    # Users whose last live connection turned out to be gone.
    left_offline: set[uuid.UUID] = field(default_factory=set)


OfflineHook = Callable[[set[uuid.UUID]], None]


@dataclass(frozen=True)
class Pusher:
    """Pushes frames through the management API of one WebSocket API stage.

    `on_offline` is told about users whose last connection answered 410, so
    that presence follows (it runs on the caller's thread, after the pushes).
    """

    endpoint: str
    on_offline: OfflineHook | None = None

    def send(self, connection_id: str, frame: Mapping[str, Any]) -> bool:
        """Push one frame; False when the connection is gone or the push failed."""
        return connection_id in self.fan_out([connection_id], frame).delivered

    def fan_out(self, connection_ids: Iterable[str], frame: Mapping[str, Any]) -> FanOutResult:
        """Push one frame to many connections in parallel."""
        payload = encode(frame)
        return self.send_each([(cid, payload) for cid in dict.fromkeys(connection_ids)])

    def send_each(self, deliveries: list[tuple[str, bytes]]) -> FanOutResult:
        """Push encoded frames, each to its connection, in parallel.

        Frames for the same connection may arrive in any order: callers send
        together only frames whose order does not matter.
        """
        result = FanOutResult()
        if not deliveries:
            return result
        # Built here, once, before the pool's threads would each build one at
        # the same moment (a boto3 client costs a cold environment seconds).
        management_client(self.endpoint)
        if len(deliveries) == 1:
            outcomes = [self._post(*deliveries[0])]
        else:
            # One share per thread, each pushed in turn: a task per push would
            # wake a worker and hand the GIL over for every frame.
            threads = min(_FAN_OUT_THREADS, len(deliveries))
            shares = [deliveries[start::threads] for start in range(threads)]
            done = _pool().map(lambda share: [self._post(*item) for item in share], shares)
            outcomes = [outcome for share in done for outcome in share]
            deliveries = [item for share in shares for item in share]
        for (connection_id, _payload), (outcome, offline_user) in zip(
            deliveries, outcomes, strict=True
        ):
            getattr(result, outcome).add(connection_id)
            if offline_user is not None:
                result.left_offline.add(offline_user)
        # Metrics are recorded here, on the handler's thread, never by the pool.
        metrics.add_metric(name="FanOutSize", unit=MetricUnit.Count, value=len(deliveries))
        if result.gone:
            metrics.add_metric(
                name="GoneConnections", unit=MetricUnit.Count, value=len(result.gone)
            )
        if result.left_offline and self.on_offline is not None:
            self.on_offline(result.left_offline)
        return result

    def to_users(
        self,
        user_ids: Iterable[uuid.UUID],
        frame: Mapping[str, Any],
        *,
        exclude_connection: str | None = None,
        once_per_connection: str | None = None,
    ) -> set[uuid.UUID]:
        """Push to every live connection of these users; the users reached.

        With `once_per_connection` (a key, such as a message id), a connection
        that this key's frame already reached is not pushed again, and counts
        as reached: a retried fan-out neither pushes twice nor forgets whom
        it reached. (Only a crash between a push and its record could push
        twice; the record follows each batch at once.)
        """
        by_user = connections.of_users(user_ids)
        targets = {
            connection_id: user_id
            for user_id, conns in by_user.items()
            for connection_id in conns
            if connection_id != exclude_connection
        }
        earlier: set[str] = set()
        if once_per_connection is not None:
            earlier = connections.already_pushed(once_per_connection, targets)
        result = self.fan_out((c for c in targets if c not in earlier), frame)
        if once_per_connection is not None:
            connections.record_pushed(once_per_connection, result.delivered)
        return {targets[connection_id] for connection_id in result.delivered | earlier}

    def close(self, connection_id: str) -> bool:
        """Close a connection (DeleteConnection); False when it was gone or the call failed.

        API Gateway closes it with code 1000 and runs its $disconnect.
        """
        try:
            management_client(self.endpoint).delete_connection(ConnectionId=connection_id)
        except ClientError as error:
            if not _is_gone(error):
                logger.warning(
                    "close failed",
                    extra={"connectionId": connection_id, "error": error.response.get("Error")},
                )
            return False
        except BotoCoreError as error:
            logger.warning(
                "close failed", extra={"connectionId": connection_id, "error": str(error)}
            )
            return False
        return True

    def _post(self, connection_id: str, payload: bytes) -> tuple[str, uuid.UUID | None]:
        """Runs on pool threads: no metrics, no domain work, only the push."""
        pushed_at = time.time()
        try:
            management_client(self.endpoint).post_to_connection(
                ConnectionId=connection_id, Data=payload
            )
        except ClientError as error:
            if _is_gone(error):
                removed = connections.remove_if_established(connection_id, pushed_at)
                if removed is None:
                    logger.info(
                        "connection still connecting", extra={"connectionId": connection_id}
                    )
                    return "connecting", None
                user_id, last = removed
                logger.info("connection gone, removed", extra={"connectionId": connection_id})
                return "gone", user_id if last else None
            logger.warning(
                "push failed",
                extra={"connectionId": connection_id, "error": error.response.get("Error")},
            )
            return "failed", None
        except BotoCoreError as error:
            logger.warning(
                "push failed", extra={"connectionId": connection_id, "error": str(error)}
            )
            return "failed", None
        return "delivered", None
