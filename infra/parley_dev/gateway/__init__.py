"""The dev gateway: API Gateway (WebSocket, HTTP, @connections), Kafka event
sources and schedules, run locally from a SAM template."""

from .app import Gateway, create_app
from .options import GatewayOptions
from .server import GatewayServer, serve
from .template import Wiring, load_wiring

__all__ = [
    "Gateway",
    "GatewayOptions",
    "GatewayServer",
    "Wiring",
    "create_app",
    "load_wiring",
    "serve",
]
