"""What a real-time domain function receives: the caller and the unit of work.

Defined here, below `parley.ws`, so that the chat domain never imports the
layer that calls it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from parley.push import Pusher


@dataclass
class ActionContext:
    session: Session
    user_id: uuid.UUID
    connection_id: str
    pusher: Pusher
    action: str = ""
    after_commit_hooks: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run `hook` once the transaction has committed (pushes, cache, follow-ups).

        Pushing before the commit could show clients a change that then rolls back.
        """
        self.after_commit_hooks.append(hook)


@dataclass(frozen=True)
class Listing:
    """A list answer: the ack carries it as ``"<name>": [...]``."""

    name: str
    items: list[Any]
