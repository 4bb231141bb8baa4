"""The outbox's prepared statements on PostgreSQL with psycopg 3 (``prepared.cursor``'s other half).

Imported by ``prepared`` with the first PostgreSQL statement, never on SQLite: psycopg and Django's
PostgreSQL backend are about 75 modules a SQLite process (``manage.py`` on the embedded default)
does not need. Why the outbox prepares its statements: ``prepared``'s docstring.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, CursorDebugWrapper, ServerBindingCursor
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.db.backends.utils import CursorWrapper
from psycopg import errors
from psycopg.pq import Format

from . import begin_psycopg, commit_psycopg

__all__ = ["begin_and_execute", "cursor", "queue_with_commit"]

#: The connection's ``prepare_threshold`` while one of our statements runs, when Django left it
#: None: psycopg prepares only with a threshold set, and with this one never by count, only what
#: asks ``prepare=True``.
_ONLY_WHEN_ASKED = 2**31 - 1


def cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """What ``connection.cursor()`` does, with our preparing raw cursor in place of ``create_cursor()``'s."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = _kept(connection)
        if connection.queries_logged:
            return _LoggedAsBound(raw, connection)
        return connection.make_cursor(raw)


def begin_and_execute(connection: BaseDatabaseWrapper, sql: str, params: list[Any]) -> list[tuple[Any, ...]] | None:
    """``begin_psycopg.begin_and_execute``, its rows loaded as this module's cursor loads them."""
    if connection.connection is None or not connection.in_atomic_block:
        return None
    raw = _kept(connection)
    try:
        return begin_psycopg.begin_and_execute(connection, sql, params, raw)
    finally:
        raw.close()


def queue_with_commit(connection: BaseDatabaseWrapper, sql: str, params: list[Any]) -> commit_psycopg.Queued | None:
    """``commit_psycopg.queue``, its rows loaded as this module's cursor loads them."""
    return commit_psycopg.queue(connection, sql, params, _kept)


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
