"""A function's handler built on its first invocation, or during Init where no request waits for it.

Importing a route's code (SQLAlchemy, psycopg, pydantic, Redis, the domain)
costs most of a cold start. Where an environment is created for a request
that waits on it (`AWS_LAMBDA_INITIALIZATION_TYPE=on-demand`), Init only
defines the handler, and the first invocation imports and builds the route.
That request waits as long as it would if Init had imported the route: the
imports are moved, not saved (benchmarks/RESULTS.md measures both phases),
and they count against the invocation's timeout instead of Init's.

Where Init runs before any request reaches the environment, it is the place
for that work: with SnapStart (`snap-start`) the snapshot then holds every
module already imported, and a restored environment imports nothing; with
provisioned concurrency (`provisioned-concurrency`) the environment is
ready before its first request. There the route is built during Init.

    @built_on_first_call
    def handler():
        from parley.chat.messages import send_message
        from parley.ws import websocket_route

        return websocket_route(send_message)

Only the standard library is imported here.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any, Any], Any]

# Initialization types whose Init phase no request waits for.
INIT_BEFORE_REQUESTS = frozenset({"snap-start", "provisioned-concurrency"})


def init_before_requests() -> bool:
    return os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") in INIT_BEFORE_REQUESTS


class DeferredHandler:
    """A Lambda handler that builds the real one once, on first use."""

    def __init__(self, build: Callable[[], Handler]) -> None:
        functools.update_wrapper(self, build)
        self._build = build
        self._handler: Handler | None = None
        # The dev gateway's in-process mode may invoke one function from many threads.
        self._lock = threading.Lock()
        if init_before_requests():
            self.load()

    def load(self) -> Handler:
        """The real handler, built (its modules imported) on the first call."""
        handler = self._handler
        if handler is None:
            with self._lock:
                if self._handler is None:
                    self._handler = self._build()
                handler = self._handler
        return handler

    @property
    def loaded(self) -> bool:
        return self._handler is not None

    def __call__(self, event: Any, context: Any) -> Any:
        return self.load()(event, context)


def built_on_first_call(build: Callable[[], Handler]) -> DeferredHandler:
    """Decorates a function that imports a route's code and returns its handler."""
    return DeferredHandler(build)
