"""SQLite: the outbox's own SQL handed to sqlite3 with its markers converted once per statement.

Why: Django's SQLite cursor converts every statement's markers for sqlite3 on every ``execute``
(``SQLiteCursorWrapper.convert_query``): ``%s`` to ``?`` with a regular expression whose cost grows
with the statement (~12 µs for the publications' long ``INSERT``), or, given a mapping,
``%(name)s`` to ``:name`` by building a dict of every name and formatting the statement with it.
The outbox's statements are a handful of fixed texts, so their converted forms are cached here,
and the raw cursor hands them to sqlite3 as they are: positional values for ``?``, a mapping for
``:name``. The values and what sqlite3 binds are the same; only the conversion is not repeated.
(Binding by name, the previous way round the regular expression, still built that dict and a
second one of the values per call: ~350 Python bytecodes per event.)

Every statement still goes through Django's own cursor wrapper (``execute_wrappers``, the queries
log that ``CaptureQueriesContext`` reads, error translation), built by the connection exactly as
``connection.cursor()`` builds it, around this raw cursor instead of Django's: the wrappers and the
log see the statement in Django's ``%s`` form with its values, as for any ORM query. PostgreSQL
keeps its own path (``prepared``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX, Database, SQLiteCursorWrapper
from django.db.backends.utils import CursorWrapper

__all__ = ["cursor", "named", "qmark"]

_NAME = re.compile(r"%\(([^)]*)\)s")


@lru_cache(maxsize=512)
def qmark(sql: str) -> str:
    """``sql``'s ``%s`` markers as sqlite3's ``?`` (``%%`` a literal ``%``): Django's conversion, once."""
    return FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")


@lru_cache(maxsize=128)
def named(sql: str) -> str:
    """``sql``'s ``%(name)s`` markers as sqlite3's ``:name`` (``%%`` a literal ``%``): Django's conversion, once."""
    return sql % {name: f":{name}" for name in _NAME.findall(sql)}


class _Converted(SQLiteCursorWrapper):
    """Django's raw SQLite cursor, with each statement's converted form taken from the caches above."""

    def execute(self, query: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> Any:
        if params is None:  # as Django: a statement without parameters is not converted
            return Database.Cursor.execute(self, query)
        kind = type(params)  # a dict or a list, the outbox's own: no isinstance of the ABC (~0.4 µs each)
        if kind is dict or (kind is not list and kind is not tuple and isinstance(params, Mapping)):
            return Database.Cursor.execute(self, named(query), params)
        return Database.Cursor.execute(self, qmark(query), params)


def cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """What ``connection.cursor()`` answers (the same checks, the same Django wrapper), around a
    raw cursor that converts each statement once. Use it as a context manager."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = connection.connection.cursor(factory=_Converted)
        connection.validate_thread_sharing()
        return connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
