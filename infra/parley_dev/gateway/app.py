"""The gateway as one ASGI application: WebSocket API, @connections, HTTP API, web client.

`create_app` reads the template and returns a Starlette app. Gateway paths
are dispatched before Starlette's router, so the web client (static files
at `/`) only sees what the APIs do not claim.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from .connections import ConnectionRegistry
from .events import WebSocketTarget
from .http_api import HttpApi
from .ids import api_id
from .management import PREFIX, ManagementApi
from .options import GatewayOptions
from .runtime import create_runner
from .template import Wiring, load_wiring
from .websocket import WebSocketEndpoint

logger = logging.getLogger(__name__)


def _stage_path(stage: str) -> str:
    return "" if stage == "$default" else f"/{stage}"


class Gateway:
    """Everything one template stands up locally, and its start and stop."""

    def __init__(self, wiring: Wiring, options: GatewayOptions) -> None:
        self.wiring = wiring
        self.options = options
        self.runner = create_runner(wiring, options)
        self.registry = ConnectionRegistry()
        self.management = ManagementApi(self.registry, options)
        self.websockets: dict[str, WebSocketEndpoint] = {}
        for api in wiring.websocket_apis:
            target = WebSocketTarget(api_id(f"{wiring.template_path}:{api.logical_id}"), api.stage)
            path = _stage_path(api.stage)
            if path in self.websockets:
                logger.warning("two WebSocket APIs on stage %s; last wins", api.stage)
            self.websockets[path] = WebSocketEndpoint(
                api, target, self.runner, self.registry, options
            )
        http_api_ids = {
            route.api_id: api_id(f"{wiring.template_path}:{route.api_id}")
            for route in wiring.http_routes
        }
        self.http = HttpApi(wiring.http_routes, self.runner, http_api_ids)
        self._background: list[Any] = []
        self._drained = False

    # --- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        await self.runner.start()
        if self.options.run_event_sources and self.wiring.kafka_mappings:
            from .kafka import KafkaEventSources

            self._background.append(KafkaEventSources(self.wiring, self.runner, self.options))
        if self.options.run_schedules and self.wiring.schedules:
            from .schedules import ScheduleRunner

            self._background.append(ScheduleRunner(self.wiring, self.runner, self.options))
        for runner in self._background:
            await runner.start()
        logger.info(
            "gateway ready: %d WebSocket route(s), %d HTTP route(s), %d Kafka mapping(s), "
            "%d schedule(s)",
            sum(len(e.api.routes) for e in self.websockets.values()),
            len(self.wiring.http_routes),
            len(self.wiring.kafka_mappings),
            len(self.wiring.schedules),
        )

    async def drain(self) -> None:
        """Close every socket with 1001 and wait for their $disconnect (once)."""
        if self._drained:
            return
        self._drained = True
        await asyncio.gather(
            *(e.drain(self.options.shutdown_timeout_seconds) for e in self.websockets.values())
        )

    async def stop(self) -> None:
        await self.drain()
        for runner in reversed(self._background):
            await runner.stop()
        self._background.clear()
        await self.runner.stop()

    # --- dispatch -----------------------------------------------------------

    async def dispatch(self, scope: dict[str, Any], receive: Any, send: Any) -> bool:
        """Serve the request if a gateway API owns its path; False otherwise."""
        if scope["type"] == "websocket":
            endpoint = self.websockets.get(scope["path"].rstrip("/"))
            if endpoint is None:
                return False
            await endpoint(scope, receive, send)
            return True
        if scope["type"] != "http":
            return False
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        for stage_path in self.websockets:
            prefix = stage_path + PREFIX
            if raw_path.startswith(prefix):
                await self.management(scope, receive, send, raw_path.removeprefix(prefix))
                return True
        matched = self.http.match(scope["method"], scope["path"])
        if matched is None:
            return False
        await self.http(scope, receive, send, matched)
        return True


class _GatewayDispatch:
    """ASGI middleware: gateway APIs first, then the app's own routes."""

    def __init__(self, app: Any, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if not await self.gateway.dispatch(scope, receive, send):
            await self.app(scope, receive, send)


def create_app(
    template_path: Path,
    *,
    options: GatewayOptions | None = None,
    web_dir: Path | None = None,
) -> Starlette:
    options = options or GatewayOptions()
    wiring = load_wiring(Path(template_path), options.parameter_overrides)
    gateway = Gateway(wiring, options)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    routes = []
    if web_dir is not None:
        routes.append(Mount("/", app=StaticFiles(directory=web_dir, html=True), name="web"))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.gateway = gateway
    app.add_middleware(_GatewayDispatch, gateway=gateway)
    return app
