"""Helpers the test packages share: import from here, not from another package's conftest."""
