"""Fan-out: a big group's new message, pushed to its recipients in batches.

Past `fan_out_inline_max_recipients`, the `message` invocation acks once the
message is committed and tells only the sender's other connections; this
consumer of `message.created` (partitioned by chat, so a chat's messages
arrive in order) pushes the frame to the recipients' live connections,
`fan_out_batch_size` recipients at a time, and marks the ones reached
DELIVERED after each batch, as the invocation does for a small chat: the
sender hears the aggregate status change. The event says which it was
(`fanOut`); the event source's filter passes only `deferred` ones, so a
small chat's message never invokes this function.

It is idempotent without a `processed_events` row: each connection reached is
recorded per message (`connections.record_pushed`) and skipped by a retry,
and a DELIVERED receipt does not move again. A batch that fails (Redis or
PostgreSQL away) fails the record, and the event source retries it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from parley.chat import attachments
from parley.chat.outcomes import MessagePosted
from parley.config import get_settings
from parley.db.session import unit_of_work
from parley.events import catalog
from parley.events.consumers.base import Consumer, lambda_handler
from parley.events.envelope import Envelope
from parley.events.models import MessageCreated
from parley.notify import live_pusher, notify
from parley.observability import logger

NAME = "fanout"


class FanOutIncomplete(RuntimeError):
    """Some batch raised; the record is retried (what was pushed is not pushed again)."""


def fan_out_message(_session: Session | None, envelope: Envelope) -> None:
    settings = get_settings()
    message = MessageCreated.model_validate(envelope.data)
    recipients = sorted(set(message.recipient_ids) - {message.sender_id})
    if message.fan_out == "inline" or (
        # Written before events said which: the same rule as the sender's.
        message.fan_out is None and len(recipients) <= settings.fan_out_inline_max_recipients
    ):
        return  # the sending invocation pushed it
    age = (datetime.now(UTC) - envelope.occurred_at).total_seconds()
    if age > settings.fan_out_max_age_seconds:
        logger.info("message too old to push live", extra={"messageId": str(message.id)})
        return
    url = settings.websocket_connections_url
    if not url:
        logger.warning("no WEBSOCKET_CONNECTIONS_URL: a big group's message is not pushed")
        return
    view = {key: value for key, value in envelope.data.items() if key != "recipientIds"}
    size = max(1, settings.fan_out_batch_size)
    with unit_of_work(pusher=live_pusher(url), notifier=notify) as work:
        # Events carry attachments without their short-lived URLs: sign them now.
        view = attachments.with_urls(work.session, view)
        for start in range(0, len(recipients), size):
            batch = frozenset(recipients[start : start + size])
            work.record(MessagePosted(message.id, dict(view), batch, batch, fan_out="batch"))
    if work.failures:
        raise FanOutIncomplete(f"{work.failures} batch(es) of message {message.id} failed")
    logger.info("fan-out done", extra={"messageId": str(message.id), "recipients": len(recipients)})


CONSUMER = Consumer(NAME, frozenset({catalog.MESSAGE_CREATED}), fan_out_message, own_units=True)
handler = lambda_handler(CONSUMER)
