"""Kafka consumer: audit (see parley.events.consumers.audit)."""

from parley.events.consumers.audit import handler

__all__ = ["handler"]
