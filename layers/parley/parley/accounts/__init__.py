"""Accounts: registration, sign-in and profiles."""
