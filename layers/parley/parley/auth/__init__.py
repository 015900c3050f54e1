"""Accounts' credentials: access and refresh tokens, password hashing."""
