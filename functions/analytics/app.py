"""Kafka consumer: analytics (see parley.events.consumers.analytics)."""

from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.events.consumers import analytics

    return analytics.handler
