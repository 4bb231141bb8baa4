"""A transaction's BEGIN and its first statement in one round trip, on PostgreSQL with psycopg 3.

Why: inside ``transaction.atomic`` psycopg sends ``BEGIN`` on its own, as a round trip of its
own, just before the transaction's first statement. A handler's transaction starts with the
outbox's statement (the completion that is also the inbox record, ``statements.complete_unhandled``),
so every delivered event paid a round trip for nothing but ``BEGIN``: on a loopback connection of a
2-core machine a round trip is a wake-up of the server's backend and one of this process, which
measured as much as the statement's own execution (``bench/events.py``: 1.41x -> about 1.25x the
hand-written event on PostgreSQL with this one change). Here both go as one simple query:
``BEGIN; EXECUTE seams_N(<literals>)``.

The statement stays prepared: ``PREPARE seams_N AS <sql>`` is sent once per connection (the first
call costs that round trip, as psycopg's own ``prepare=True`` does), so the server plans it once, not
on every call as it would a literal statement (measured: a literal ``UPDATE`` planned each time lost
what the round trip saved). The values travel as SQL literals escaped by libpq
(``PQescapeLiteral``); only ``None``, booleans, integers and values whose text PostgreSQL reads back
as the value (strings, UUIDs, datetimes, whose ``str`` is their ISO text) are taken.

When it does not apply it answers None and the caller runs the statement through the cursor as
before: outside an atomic block or after the transaction's first statement; a ``BEGIN`` psycopg
would write differently (an isolation level, read only, deferrable: its own command is used, so
these work too) is fine, but a pipeline, autocommit or ``execute_wrappers`` on the connection
(a wrapper must see every statement: it gets the cursor path) are not. The queries log
(``connection.queries``, ``CaptureQueriesContext``) shows the statement with its values merged, as
the cursor path logs it.

Named statements can vanish: psycopg sends ``DEALLOCATE ALL`` after a rollback when it has prepared
statements of its own (this module forgets its names at that moment: it wraps the connection's
prepared-statement manager's ``clear``), and a pooler or ``DISCARD ALL`` drops them unseen. Then
the ``EXECUTE`` fails with "prepared statement does not exist" (or "cached plan must not change
result type" after a migration): the half-begun transaction is rolled back (nothing ran in it), the
connection stops using this way for good (behind a transaction-mode pooler it would fail every
time) and the caller's cursor path runs the statement. Any other error is the statement's own: it
is raised, the transaction is aborted, and the atomic block rolls it back as after any failed
statement.
"""

from __future__ import annotations

import datetime
import logging
import time
import uuid
import weakref
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import errors
from psycopg.adapt import Transformer
from psycopg.generators import execute as _execute_gen
from psycopg.pq import Escaping, ExecStatus, TransactionStatus

__all__ = ["begin_and_execute"]

logger = logging.getLogger("django.db.backends")

_IDLE = TransactionStatus.IDLE
_FATAL_ERROR = ExecStatus.FATAL_ERROR

#: Errors of an ``EXECUTE`` whose named statement the server no longer has, or no longer matches.
_GONE = (errors.InvalidSqlStatementName, errors.FeatureNotSupported)

#: The values written as their ``str``: PostgreSQL reads that text back as the value.
_AS_TEXT = (str, uuid.UUID, datetime.datetime, datetime.date)


class _Names:
    """The statements this module prepared on one psycopg connection (SQL text -> name)."""

    __slots__ = ("by_sql", "count", "off")

    def __init__(self) -> None:
        self.by_sql: dict[str, str] = {}
        self.count = 0
        self.off = False


#: Per psycopg connection: its ``_Names``. Weak: a closed connection takes its entry with it.
_NAMES: weakref.WeakKeyDictionary[Any, _Names] = weakref.WeakKeyDictionary()


def begin_and_execute(connection: BaseDatabaseWrapper, sql: str, params: list[Any], context: Any) -> list[tuple[Any, ...]] | None:
    """Begin ``connection``'s transaction with ``sql`` (``%s`` markers) run on ``params``, in one
    round trip; its rows as the cursor would load them with the adapters of ``context`` (a psycopg
    cursor of the connection: Django's loaders, its time zone), or None when this does not apply
    (the caller then runs ``sql`` through its cursor)."""
    conn = connection.connection
    if conn is None or not connection.in_atomic_block or connection.execute_wrappers:
        return None
    pgconn = conn.pgconn
    if pgconn.transaction_status != _IDLE or conn.autocommit or conn._pipeline is not None:
        return None
    names = _NAMES.get(conn)
    if names is None:
        names = _NAMES[conn] = _Names()
        _forget_on_clear(conn, names)
    if names.off:
        return None
    literals = _literals(pgconn, params)
    if literals is None:
        return None
    logged = connection.queries_logged
    start = time.monotonic() if logged else 0.0
    with connection.wrap_database_errors, conn.lock:
        name = names.by_sql.get(sql)
        if name is None:
            name = f"seams_{names.count}"
            names.count += 1
            markers = tuple(f"${i}" for i in range(1, len(params) + 1))
            _raise_failed(pgconn, conn.wait(_run(pgconn, f"PREPARE {name} AS {sql % markers}".encode())))
            names.by_sql[sql] = name
        command = conn._get_tx_start_command() + f"; EXECUTE {name}({literals})".encode()
        results = conn.wait(_run(pgconn, command))
        failed = next((r for r in results if r.status == _FATAL_ERROR), None)
        if failed is not None:
            error = errors.error_from_result(failed, encoding=pgconn._encoding)
            if not isinstance(error, _GONE):
                raise error
            # Nothing ran in the transaction but its BEGIN: end it, and let the cursor path run it.
            names.off = True
            names.by_sql.clear()
            conn.wait(_run(pgconn, b"ROLLBACK"))
            return None
    if logged:
        _log(connection, sql, params, time.monotonic() - start)
    last = results[-1]
    loader = Transformer(context)
    loader.set_pgresult(last)
    return loader.load_rows(0, last.ntuples, tuple)  # type: ignore[no-any-return]


def _run(pgconn: Any, command: bytes) -> Any:
    pgconn.send_query(command)
    return _execute_gen(pgconn)


def _raise_failed(pgconn: Any, results: list[Any]) -> None:
    for result in results:
        if result.status == _FATAL_ERROR:
            raise errors.error_from_result(result, encoding=pgconn._encoding)


def _literals(pgconn: Any, params: list[Any]) -> str | None:
    """``params`` as a list of SQL literals, or None if one is of a type not written here."""
    escape = Escaping(pgconn).escape_literal
    encoding = pgconn._encoding
    out = []
    for value in params:
        if value is None:
            out.append("NULL")
        elif value is True or value is False:
            out.append("true" if value else "false")
        elif type(value) is int:
            out.append(str(value))
        elif isinstance(value, _AS_TEXT):
            out.append(escape(str(value).encode(encoding)).decode(encoding))
        else:
            return None
    return ", ".join(out)


def _forget_on_clear(conn: Any, names: _Names) -> None:
    """Forget ``names`` whenever psycopg clears its prepared statements: it then sends
    ``DEALLOCATE ALL``, which drops this module's too."""
    manager = getattr(conn, "_prepared", None)
    clear = getattr(manager, "clear", None)
    if clear is None:  # a psycopg without this manager: the error path forgets them instead
        return

    def clear_both() -> bool:
        cleared = clear()
        if cleared:
            names.by_sql.clear()
        return bool(cleared)

    manager.clear = clear_both


def _log(connection: BaseDatabaseWrapper, sql: str, params: list[Any], duration: float) -> None:
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
