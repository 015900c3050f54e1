"""Scheduled: publish what commits left in the outbox (parley.events.relay)."""

from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.events import relay

    return relay.handler
