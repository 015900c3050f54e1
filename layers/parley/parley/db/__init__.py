"""PostgreSQL: engine, sessions and tables. All SQL lives under parley.db."""

from parley.db.session import get_engine, reset_engine, session_scope

__all__ = ["get_engine", "reset_engine", "session_scope"]
