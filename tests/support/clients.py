"""The process's cached settings and clients, forgotten between environments."""

from __future__ import annotations


def reset_clients() -> None:
    """Forget cached settings and clients so they read the environment again."""
    from parley.config import get_settings
    from parley.db import reset_engine
    from parley.events.kafka import reset_producer
    from parley.storage import reset_client as reset_storage
    from parley.stores.client import reset_redis

    get_settings.cache_clear()
    reset_engine()
    reset_redis()
    reset_producer()
    reset_storage()
