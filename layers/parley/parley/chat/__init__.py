"""The chat domain: chats, members, messages, receipts, pins, forwards."""
