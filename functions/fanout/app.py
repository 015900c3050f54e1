"""Kafka consumer: a big group's messages to its recipients (see parley.events.consumers.fanout)."""

from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.events.consumers import fanout

    return fanout.handler
