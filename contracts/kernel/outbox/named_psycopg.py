"""The outbox's SQL-level prepared statements on one psycopg 3 connection: what ``begin_psycopg`` and
``commit_psycopg`` share to send a statement inside another one's round trip.

A statement that rides with ``BEGIN`` or ``COMMIT`` goes in one simple query (``BEGIN; EXECUTE
seams_N(<literals>)``), so it cannot be a protocol-level prepared statement as the cursor's are; it
is prepared with SQL instead (``PREPARE seams_N AS ...``, once per connection), so that the server
plans it once, and its values travel as SQL literals escaped by libpq (``PQescapeLiteral``). Only
values whose literal PostgreSQL reads back as the value are written: None, booleans, integers
(Django's integer wrappers too), strings, UUIDs, dates and datetimes (their ``str`` is their ISO
text), and psycopg's JSON wrappers (their text); anything else makes the caller take the cursor.

Named statements can vanish. psycopg sends ``DEALLOCATE ALL`` after a rollback when it holds
prepared statements of its own: the names here are forgotten at that moment (the connection's
prepared-statement manager's ``clear`` is wrapped), so the next use prepares afresh. A pooler or a
``DISCARD ALL`` drops them unseen: the ``EXECUTE`` then fails with "prepared statement does not
exist" (or "cached plan must not change result type" after a migration), the caller recovers, and
``Names.off`` keeps that connection on the cursor from then on (behind a transaction-mode pooler
it would fail every time).
"""

from __future__ import annotations

import datetime
import json
import logging
import uuid
import weakref
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import errors
from psycopg.adapt import Transformer
from psycopg.generators import execute as _execute_gen
from psycopg.pq import Escaping, ExecStatus
from psycopg.types.json import Json, Jsonb

__all__ = ["GONE", "Names", "failure", "literals", "load", "log", "names_of", "run", "usable"]

logger = logging.getLogger("django.db.backends")

FATAL_ERROR = ExecStatus.FATAL_ERROR

#: Errors of an ``EXECUTE`` whose named statement the server no longer has, or no longer matches.
GONE = (errors.InvalidSqlStatementName, errors.FeatureNotSupported)


class Names:
    """The statements prepared here on one psycopg connection: (SQL text, parameter types) -> name."""

    __slots__ = ("by_sql", "count", "off")

    def __init__(self) -> None:
        self.by_sql: dict[tuple[str, tuple[str, ...]], str] = {}
        self.count = 0
        self.off = False

    def prepare(self, sql: str, types: tuple[str, ...]) -> tuple[str, str]:
        """The name of ``sql`` (``%s`` markers) for parameters of ``types`` (``literals``), and the
        ``PREPARE`` to send first ("" when it is prepared already). The name is taken at once: send
        the ``PREPARE`` in the same round trip or ``forget`` the names if it failed."""
        key = (sql, types)
        name = self.by_sql.get(key)
        if name is not None:
            return name, ""
        name = self.by_sql[key] = f"seams_{self.count}"
        self.count += 1
        markers = tuple(f"${i}" for i in range(1, len(types) + 1))
        return name, f"PREPARE {name} ({', '.join(types)}) AS {sql % markers}"

    def forget(self) -> None:
        self.by_sql.clear()


#: Per psycopg connection: its ``Names``. Weak: a closed connection takes its entry with it.
_NAMES: weakref.WeakKeyDictionary[Any, Names] = weakref.WeakKeyDictionary()


def names_of(conn: Any) -> Names:
    names = _NAMES.get(conn)
    if names is None:
        names = _NAMES[conn] = Names()
        _forget_on_clear(conn, names)
    return names


def usable(connection: BaseDatabaseWrapper, *, committing: bool = False) -> Any:
    """The psycopg connection, if a statement may ride in another's round trip on it: open, in an
    atomic block (or, ``committing``, leaving the outermost one: Django commits once it has left
    it), not in autocommit or a pipeline, no ``execute_wrappers`` (a wrapper must see every
    statement: it gets the cursor), and not given up on (``Names.off``); else None."""
    conn = connection.connection
    if conn is None or not (connection.in_atomic_block or committing) or connection.execute_wrappers:
        return None
    if conn.autocommit or conn._pipeline is not None or names_of(conn).off:
        return None
    return conn


def literals(pgconn: Any, params: list[Any]) -> tuple[str, tuple[str, ...]] | None:
    """``params`` as a comma-separated list of SQL literals and the types to prepare their
    parameters with (the statement is prepared per types: PostgreSQL cannot always infer them, as in
    ``CASE WHEN ... THEN '' ELSE $1 END``; ``unknown`` for None, which it infers from the context),
    or None if one is of a type not written here."""
    escape = Escaping(pgconn).escape_literal
    encoding = pgconn._encoding
    out, types = [], []
    for value in params:
        if value is None:
            out.append("NULL")
            types.append("unknown")
        elif value is True or value is False:
            out.append("true" if value else "false")
            types.append("boolean")
        elif isinstance(value, int):  # Django's integer wrappers (psycopg's Int4...) are ints
            out.append(str(int(value)))
            types.append("bigint")
        elif type(value) in _TEXT_TYPES:  # exactly these types: a subclass may print otherwise
            out.append(escape(str(value).encode(encoding)).decode(encoding))
            types.append(_TEXT_TYPES[type(value)] or _moment(value))
        elif isinstance(value, Json | Jsonb):
            text = value.dumps(value.obj) if value.dumps is not None else json.dumps(value.obj)
            out.append(escape(text.encode(encoding)).decode(encoding))
            types.append("jsonb" if isinstance(value, Jsonb) else "json")
        else:
            return None
    return ", ".join(out), tuple(types)


def _moment(value: datetime.datetime) -> str:
    return "timestamp" if value.utcoffset() is None else "timestamptz"


#: The values written as their ``str`` (PostgreSQL reads that text back as the value), and their
#: parameter type ("" for a datetime: with or without a time zone, ``_moment``).
_TEXT_TYPES = {str: "text", uuid.UUID: "uuid", datetime.date: "date", datetime.datetime: ""}


def run(conn: Any, command: bytes) -> list[Any]:
    """Send ``command`` as one simple query and wait for every result (call with ``conn.lock`` held)."""
    pgconn = conn.pgconn
    pgconn.send_query(command)
    return conn.wait(_execute_gen(pgconn))  # type: ignore[no-any-return]


def failure(pgconn: Any, results: list[Any]) -> Exception | None:
    """The error of the first failed statement among ``results`` (psycopg's class for it), or None."""
    for result in results:
        if result.status == FATAL_ERROR:
            return errors.error_from_result(result, encoding=pgconn._encoding)
    return None


def load(context: Any, result: Any) -> list[tuple[Any, ...]]:
    """``result``'s rows as a cursor with the adapters of ``context`` loads them (Django's loaders, its time zone)."""
    loader = Transformer(context)
    loader.set_pgresult(result)
    return loader.load_rows(0, result.ntuples, tuple)  # type: ignore[no-any-return]


def log(connection: BaseDatabaseWrapper, sql: str, params: list[Any], duration: float) -> None:
    """What Django's debug cursor records for a statement: the queries log and a debug line."""
    merged = connection.ops.compose_sql(sql, params)
    connection.queries_log.append({"sql": merged, "time": f"{duration:.3f}"})
    logger.debug(
        "(%.3f) %s; args=%s; alias=%s",
        duration,
        merged,
        params,
        connection.alias,
        extra={"duration": duration, "sql": merged, "params": params, "alias": connection.alias},
    )


def _forget_on_clear(conn: Any, names: Names) -> None:
    """Forget ``names`` whenever psycopg clears its prepared statements: it then sends ``DEALLOCATE
    ALL``, which drops these too."""
    manager = getattr(conn, "_prepared", None)
    clear = getattr(manager, "clear", None)
    if clear is None:  # a psycopg without this manager: the error path forgets them instead
        return

    def clear_both() -> bool:
        cleared = clear()
        if cleared:
            names.forget()
        return bool(cleared)

    manager.clear = clear_both
