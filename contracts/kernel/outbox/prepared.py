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

try:  # psycopg 3 and Django's cursor classes for it; absent with psycopg2 or without a PG driver
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, CursorDebugWrapper, ServerBindingCursor
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg import errors
    from psycopg.pq import Format
except ImportError:  # pragma: no cover - psycopg2 or no PostgreSQL driver installed
    ServerBindingCursor = None

__all__ = ["cursor"]

#: The connection's ``prepare_threshold`` while one of our statements runs, when Django left it
#: None: psycopg prepares only with a threshold set, and with this one never by count, only what
#: asks ``prepare=True``.
_ONLY_WHEN_ASKED = 2**31 - 1


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
    if (
        connection.vendor != "postgresql"
        or ServerBindingCursor is None
        or listed > MAX_LISTED
        or not outbox_settings().prepared_statements
    ):
        return connection.cursor()
    # What ``connection.cursor()`` does, with our raw cursor in place of ``create_cursor()``'s.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = _kept(connection)
        if connection.queries_logged:
            return _LoggedAsBound(raw, connection)
        return connection.make_cursor(raw)


def _kept(connection: BaseDatabaseWrapper) -> Any:
    """The raw cursor kept for ``connection``'s current psycopg connection and time zone, free
    again once its previous user closed it; else a new one, kept for the next call.

    Why: a new psycopg cursor costs ~330 Python bytecodes before it runs anything (its adapters
    map, its transformer, whose per-type dumper and loader caches start empty and are filled again
    through psycopg's Python ``get_dumper`` / ``get_loader``, the time zone check below), and one
    event runs two of the outbox's statements. The kept cursor's ``close`` only marks it free
    (``_PreparingCursor.close``; its results go at its next ``execute``, as any cursor's); a second
    cursor asked for while the first is still open is a new one, closed for real, and so is every
    cursor of a connection shared between threads (``allow_thread_sharing``)."""
    conn, zone = connection.connection, connection.timezone
    if connection.allow_thread_sharing:
        return _new(conn, zone)
    kept = connection.__dict__.get("_seams_prepared_cursor")
    if kept is not None and kept._conn is conn and kept.zone is zone:
        if not kept.busy:
            kept.busy = True
            return kept
        return _new(conn, zone)
    raw = _new(conn, zone)
    raw.kept = raw.busy = True
    connection.__dict__["_seams_prepared_cursor"] = raw
    return raw


def _new(conn: Any, zone: Any) -> Any:
    raw = _PreparingCursor(conn)
    raw.zone = zone
    # As ``create_cursor`` does: the connection's time zone for the timestamps read.
    if zone != conn.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone:
        register_tzloader(zone, raw)
    return raw


if ServerBindingCursor is not None:

    class _PreparingCursor(ServerBindingCursor):  # type: ignore[misc, valid-type]
        """psycopg's server-binding cursor whose ``execute`` prepares (``prepare=True``); the one
        kept for its connection (``_kept``) stays open when closed, for the next statement."""

        kept = busy = False
        zone: Any = None

        def close(self) -> None:
            if self.kept and not self._conn.closed:
                self.busy = False  # its results go at its next execute
                return
            super().close()

        def execute(self, query: Any, params: Any = None, *, prepare: bool | None = True, binary: bool | None = None) -> Any:
            conn = self.connection
            threshold = conn.prepare_threshold
            if threshold is None:
                conn.prepare_threshold = _ONLY_WHEN_ASKED
            try:
                return super().execute(query, params, prepare=prepare, binary=binary)
            except (errors.FeatureNotSupported, errors.InvalidSqlStatementName):
                # "cached plan must not change result type" / "prepared statement ... does not
                # exist": psycopg keeps the name of a statement that already ran, so without this
                # every later call would fail the same way.
                _forget_prepared(conn)
                raise
            finally:
                if threshold is None:
                    conn.prepare_threshold = None

    class _LoggedAsBound(CursorDebugWrapper):  # type: ignore[misc, valid-type]
        """Django's debug cursor, logging the statement with its parameters merged (Django's own
        ``last_executed_query`` would log ``$1`` placeholders for a server-binding cursor of a
        connection configured client-binding)."""

        def debug_sql(self, sql: Any = None, params: Any = None, use_last_executed_query: bool = False, many: bool = False) -> Any:
            if use_last_executed_query and params is not None:
                try:
                    sql = self.db.ops.compose_sql(sql, params)
                except errors.DataError:
                    pass
            return super().debug_sql(sql, params, use_last_executed_query=False, many=many)


def _forget_prepared(conn: Any) -> None:
    """Make psycopg forget every statement it prepared on ``conn`` (it deallocates them on the
    server when it next can). Its prepared-statement cache is internal: if a psycopg version has
    none by this name, nothing is forgotten and the error repeats until the next rollback (which
    clears it too)."""
    manager = getattr(conn, "_prepared", None)
    if manager is not None:
        manager.clear()
