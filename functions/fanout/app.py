"""Kafka consumer: a big group's messages to its recipients (see parley.events.consumers.fanout)."""

from parley.events.consumers.fanout import handler

__all__ = ["handler"]
