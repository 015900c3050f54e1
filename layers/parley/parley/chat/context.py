"""What a real-time domain function receives: the caller and the unit of work.

Defined here, below `parley.ws`, so that the chat domain never imports the
layer that calls it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from parley.db.session import UnitOfWork


@dataclass
class ActionContext:
    work: UnitOfWork
    user_id: uuid.UUID
    connection_id: str
    action: str = ""

    @property
    def session(self) -> Session:
        return self.work.session

    def tell(self, *outcomes: Any) -> None:
        """What happened (`parley.chat.outcomes`): frames for it leave after the commit."""
        self.work.record(*outcomes)

    def after_commit(self, step: Callable[[], None]) -> None:
        """Run `step` once the transaction has committed (caches, follow-ups)."""
        self.work.after_commit(step)


@dataclass(frozen=True)
class Listing:
    """A list answer: the ack carries it as ``"<name>": [...]``."""

    name: str
    items: list[Any]
