"""SQLite: the outbox's own SQL bound by name, which Django's SQLite cursor converts cheaply.

Why: Django's SQLite cursor turns every statement's ``%s`` markers into sqlite3's ``?`` with a
regular expression, on every ``execute`` (``SQLiteCursorWrapper.convert_query``), and the regular
expression's cost grows with the statement's length: ~12 µs for the publications' long
``INSERT ... SELECT``, ~3-5 µs for the shorter ones, on every event. Given a mapping instead, it
formats ``%(name)s`` markers with Python's ``%`` (~2-3 µs for the long one). The outbox's statements
are fixed texts, so each is rewritten to named markers once (cached) and its parameters passed as
a dict; the SQL, the values and what sqlite3 binds are the same.

Every statement still goes through Django's own cursor wrapper (``execute_wrappers``, the queries
log that ``CaptureQueriesContext`` reads, error translation): the wrapper is Django's class with
only ``execute`` changed, around the raw cursor ``connection.cursor()`` made. The log shows the
statement with its values, as before. PostgreSQL keeps its own path (``prepared``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from django.db.backends.utils import CursorDebugWrapper, CursorWrapper

__all__ = ["by_name"]

#: The markers Django's SQLite cursor rewrites (``%%`` is a literal ``%``): its own pattern.
_MARKER = re.compile(r"(?<!%)%s")


@lru_cache(maxsize=512)
def named(sql: str) -> tuple[str, tuple[str, ...]]:
    """``sql`` with its ``%s`` markers as ``%(p0)s``, ``%(p1)s``, ..., and those names in order."""
    names: list[str] = []

    def mark(_: re.Match[str]) -> str:
        names.append(f"p{len(names)}")
        return f"%({names[-1]})s"

    return _MARKER.sub(mark, sql), tuple(names)


class _ByName:
    """``execute`` with positional parameters sent as named ones (the rest is Django's wrapper)."""

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Any:
        if params is not None and not isinstance(params, Mapping):
            sql, names = named(sql)
            params = dict(zip(names, params, strict=True))
        return super().execute(sql, params)  # type: ignore[misc]


class _Cursor(_ByName, CursorWrapper):
    pass


class _DebugCursor(_ByName, CursorDebugWrapper):
    pass


def by_name(wrapped: CursorWrapper) -> CursorWrapper:
    """The raw cursor of ``wrapped`` (what SQLite's ``connection.cursor()`` answered) in the same
    kind of Django wrapper, whose ``execute`` binds by name."""
    kind = _DebugCursor if isinstance(wrapped, CursorDebugWrapper) else _Cursor
    return kind(wrapped.cursor, wrapped.db)
