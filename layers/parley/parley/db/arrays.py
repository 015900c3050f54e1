"""Array parameters for statements that take a whole list at once (`unnest`, `= ANY`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable


def uuid_array(ids: Iterable[uuid.UUID | str]) -> str:
    """A PostgreSQL array literal of uuids, for ``CAST(:param AS uuid[])``.

    psycopg adapts a list element by element and escapes each one with a
    regular expression: milliseconds for a big group's thousand members,
    where the text of a uuid needs no escaping at all. Ids already in text
    form are taken as they are.
    """
    return "{" + ",".join(map(str, ids)) + "}"
