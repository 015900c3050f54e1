"""Scheduled: delete uploads that no message linked in time (parley.chat.attachments)."""

from parley.coldstart import built_on_first_call


@built_on_first_call
def handler():
    from parley.chat.attachments import cleanup_handler

    return cleanup_handler
