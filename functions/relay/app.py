"""Scheduled: publish what commits left in the outbox (parley.events.relay)."""

from parley.events.relay import handler

__all__ = ["handler"]
