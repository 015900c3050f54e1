"""Kafka consumer: audit (see parley.events.consumers.audit)."""

from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.events.consumers import audit

    return audit.handler
