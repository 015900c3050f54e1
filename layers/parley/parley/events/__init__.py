"""Domain events: the catalog, the envelope, the outbox and its relay, the consumers."""

from parley.events.outbox import emit

__all__ = ["emit"]
