"""Kafka consumer: notifications (see parley.events.consumers.notifications)."""

from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.events.consumers import notifications

    return notifications.handler
