"""Lambda SnapStart: no socket survives into a snapshot or out of a restore.

With SnapStart on (the template's `SnapStart` parameter), Lambda runs a
published version's init phase once, snapshots the environment's memory, and
resumes every new environment from that snapshot. A connection opened before
the snapshot would be shared by every environment restored from it, so each
module that holds one registers how to drop it (`@holds_connections`), and
the runtime hooks drop them all before the snapshot and again after each
restore; the next use opens fresh ones.

The hooks come from `snapshot_restore_py`, which the Lambda Python runtime
provides (python3.12 and later); anywhere else there is nothing to register.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

_log = logging.getLogger(__name__)

Reset = Callable[[], None]
_resets: list[Reset] = []


def holds_connections(reset: Reset) -> Reset:
    """Decorates a module's reset function: run at snapshot and at restore."""
    _resets.append(reset)
    return reset


def drop_connections() -> None:
    for reset in _resets:
        try:
            reset()
        except Exception:  # one stale client must not keep the others open
            _log.exception("%s failed", getattr(reset, "__qualname__", reset))


def register_runtime_hooks() -> bool:
    """True when the Lambda runtime's SnapStart hooks were registered."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(drop_connections)
    register_after_restore(drop_connections)
    return True


register_runtime_hooks()
