"""Serving the gateway: `serve` for the command line, `GatewayServer` for tests.

Both shut down the way API Gateway loses a deployment gracefully: stop
accepting, close every socket with 1001 and run its $disconnect, let
in-flight invocations finish, stop consumers and schedules, exit.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import uvicorn

from .app import Gateway

logger = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _gateway_of(app: Any) -> Gateway | None:
    state = getattr(app, "state", None)
    return getattr(state, "gateway", None)


class _GracefulServer(uvicorn.Server):
    """uvicorn, with the gateway's own goodbye before uvicorn's (which says 1012)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the signal after shutting down, killing the
        # process; a stop asked for by signal is a normal exit here, so the
        # caller can still stop what it started (the embedded services).
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        gateway = _gateway_of(self.config.app)
        if gateway is not None:
            await gateway.drain()
        await super().shutdown(sockets)


def _config(app: Any, host: str, port: int, **extra: Any) -> uvicorn.Config:
    gateway = _gateway_of(app)
    max_frame = gateway.options.max_frame_bytes if gateway else 128 * 1024
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        # The gateway closes oversized frames itself (1009); uvicorn's limit
        # only keeps absurd ones from being buffered at all.
        ws_max_size=max_frame * 2,
        timeout_graceful_shutdown=15,
        log_config=None,
        **extra,
    )


def _ensure_logging() -> None:
    gateway_logger = logging.getLogger("parley_dev.gateway")
    if not gateway_logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        gateway_logger.addHandler(handler)
        gateway_logger.setLevel(logging.INFO)


def serve(app: Any, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully."""
    _ensure_logging()
    _GracefulServer(_config(app, host, port)).run()


class GatewayServer:
    """The gateway on a free port in a background thread, for tests and tools.

    with GatewayServer(create_app(template)) as server:
        websockets.connect(server.ws_url("ws"))
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int | None = None) -> None:
        from parley_dev.services import free_port

        self.app = app
        self.host = host
        self.port = port or free_port(host)
        self._server = _GracefulServer(_config(app, self.host, self.port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, name="gateway", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def domain_name(self) -> str:
        return f"{self.host}:{self.port}"

    def ws_url(self, stage: str = "ws") -> str:
        return f"ws://{self.host}:{self.port}/{stage}"

    @property
    def gateway(self) -> Gateway | None:
        return _gateway_of(self.app)

    def start(self, timeout: float = 30.0) -> GatewayServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the gateway exited while starting; see the log")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not start in {timeout:.0f}s")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
