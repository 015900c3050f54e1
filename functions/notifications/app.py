"""Kafka consumer: notifications (see parley.events.consumers.notifications)."""

from parley.events.consumers.notifications import handler

__all__ = ["handler"]
