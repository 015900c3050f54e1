"""Redis: connections, presence, rate limits and the message cache.

Each module owns its keys; nothing else reads or writes them.
"""
