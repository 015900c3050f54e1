"""Kafka consumer: analytics (see parley.events.consumers.analytics)."""

from parley.events.consumers.analytics import handler

__all__ = ["handler"]
