"""Helpers the test packages share: import from here, not from another package's conftest."""

from pathlib import Path

# The repository's root.
ROOT = Path(__file__).resolve().parents[2]
