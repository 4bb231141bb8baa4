"""A cursor for the outbox's own fixed-shape SQL that PostgreSQL parses and plans once per connection.

Why: Django's psycopg backend binds parameters client side (``ClientCursor``) and never prepares,
so each of the outbox's long statements (``statements.publish_rows``' data-modifying ``WITH``, the
inbox-completing ``WITH``, ``claiming.claim_read``'s ``UPDATE ... RETURNING``) is sent as a new text
with its values inlined and parsed and planned again on every call: ~0.2 ms of planning for a
statement that executes in ~0.07 ms. Here the same SQL goes to a server-binding psycopg cursor
(``$1`` parameters) with ``prepare=True``: the first call on a connection prepares it (one more
round trip), every later one only binds and executes the named statement.

Only the outbox's own SQL uses this cursor; ORM queries keep Django's client-binding cursor, and the
connection's ``prepare_threshold`` (None by Django's default, so psycopg never prepares by itself)
is set only for the duration of one of these ``execute`` calls.

Every statement is still seen by Django: the raw cursor is wrapped by the connection exactly as
``connection.cursor()`` wraps its own (``execute_wrappers``, the queries log that
``CaptureQueriesContext`` reads, error translation), and the log shows the statement with its
parameters merged, as it shows a client-bound one (tests re-run logged SQL under ``EXPLAIN``).

SQLite gets ``connection.cursor()``'s wrapper around a raw cursor that converts each statement's
markers once (``sqlite_markers``: Python's sqlite3 already caches prepared statements per
connection, but Django rewrites each statement's markers on every call);
psycopg2 and ``SEAMS_EVENTS['PREPARED_STATEMENTS'] = False`` get ``connection.cursor()``
unchanged. Switch it off behind PgBouncer in transaction mode older than 1.21 (or without
``max_prepared_statements``): a named statement prepared on one server connection does not exist
on the next.

A prepared statement that stops matching the schema (a migration changed the type of a column it
returns: "cached plan must not change result type") or that the server no longer has (a pooler
switched connections, ``DEALLOCATE ALL``) fails once: the connection then forgets its prepared
statements, and the next call prepares afresh. The failed call's transaction fails like any
database error; the outbox's retries run it again.
"""

from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from . import sqlite_markers
from .config import outbox_settings

__all__ = ["begin_and_execute", "cursor", "queue_with_commit"]

#: A statement whose SQL names its rows one placeholder each (``id IN (%s, %s, ...)``) is prepared
#: only for up to this many: each count is a statement of its own on the server, and a batch's
#: statement plans once for all its rows anyway. So a connection holds a handful of prepared
#: statements, far below psycopg's ``prepared_max`` (100), which would otherwise evict and re-prepare.
MAX_LISTED = 2


def cursor(alias: str | BaseDatabaseWrapper, listed: int = 1) -> CursorWrapper:
    """A cursor of ``alias``'s connection (or of the connection given: a caller that holds it saves
    a lookup through ``connections``' thread-local storage) for the outbox's own SQL: on PostgreSQL
    (psycopg 3) one that prepares each statement it runs, else ``connection.cursor()``. ``listed``:
    how many rows the statement names by placeholder (``MAX_LISTED``). Use it as a context manager."""
    connection = connections[alias] if isinstance(alias, str) else alias
    if connection.vendor == "sqlite":
        return sqlite_markers.cursor(connection)  # each statement's markers converted once, not per call
    if connection.vendor != "postgresql" or listed > MAX_LISTED or not outbox_settings().prepared_statements:
        return connection.cursor()
    psycopg_cursors = _PSYCOPG or _import_psycopg()
    if psycopg_cursors is _NO_PSYCOPG:
        return connection.cursor()
    return psycopg_cursors.cursor(connection)


def begin_and_execute(connection: BaseDatabaseWrapper, sql: str, params: list[Any]) -> list[tuple[Any, ...]] | None:
    """On PostgreSQL (psycopg 3, prepared statements on): ``sql`` run as the first statement of
    ``connection``'s atomic block, its ``BEGIN`` in the same round trip (``begin_psycopg``); its
    rows as ``cursor``'s would be. None where that does not apply: the caller runs ``sql`` through
    ``cursor``."""
    psycopg_cursors = _riding(connection)
    return None if psycopg_cursors is None else psycopg_cursors.begin_and_execute(connection, sql, params)


def queue_with_commit(connection: BaseDatabaseWrapper, sql: str, params: list[Any]) -> Any:
    """On PostgreSQL (psycopg 3, prepared statements on): ``sql`` queued to run with the
    transaction's ``COMMIT``, in its round trip (``commit_psycopg``); a ``Queued`` whose
    ``result()`` is its rows once it ran. None where that does not apply: run it now."""
    psycopg_cursors = _riding(connection)
    return None if psycopg_cursors is None else psycopg_cursors.queue_with_commit(connection, sql, params)


def _riding(connection: BaseDatabaseWrapper) -> Any:
    """``prepared_psycopg`` if a statement may ride with ``BEGIN`` or ``COMMIT`` on ``connection``
    (PostgreSQL, psycopg 3, prepared statements on), else None."""
    if connection.vendor != "postgresql" or not outbox_settings().prepared_statements:
        return None
    psycopg_cursors = _PSYCOPG or _import_psycopg()
    return None if psycopg_cursors is _NO_PSYCOPG else psycopg_cursors


#: ``prepared_psycopg``, imported with the first PostgreSQL statement: a process on SQLite never
#: imports psycopg (about 70 modules) nor Django's PostgreSQL backend.
_PSYCOPG: Any = None
_NO_PSYCOPG: Any = object()  # psycopg 3 is not installed (psycopg2, or no PostgreSQL driver)


def _import_psycopg() -> Any:
    global _PSYCOPG
    try:
        from . import prepared_psycopg
    except ImportError:  # pragma: no cover - psycopg2 or no PostgreSQL driver installed
        _PSYCOPG = _NO_PSYCOPG
    else:
        _PSYCOPG = prepared_psycopg
    return _PSYCOPG


