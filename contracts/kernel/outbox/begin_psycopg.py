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
what the round trip saved). Its name, its values as literals and the rows: ``named_psycopg``.

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

import time
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.pq import TransactionStatus

from . import named_psycopg as named

__all__ = ["begin_and_execute"]

_IDLE = TransactionStatus.IDLE


def begin_and_execute(connection: BaseDatabaseWrapper, sql: str, params: list[Any], context: Any) -> list[tuple[Any, ...]] | None:
    """Begin ``connection``'s transaction with ``sql`` (``%s`` markers) run on ``params``, in one
    round trip; its rows as the cursor would load them with the adapters of ``context`` (a psycopg
    cursor of the connection: Django's loaders, its time zone), or None when this does not apply
    (the caller then runs ``sql`` through its cursor)."""
    conn = named.usable(connection)
    if conn is None or conn.pgconn.transaction_status != _IDLE:
        return None
    pgconn = conn.pgconn
    written = named.literals(pgconn, params)
    if written is None:
        return None
    values, types = written
    names = named.names_of(conn)
    logged = connection.queries_logged
    start = time.monotonic() if logged else 0.0
    with connection.wrap_database_errors, conn.lock:
        name, prepare = names.prepare(sql, types)
        if prepare:  # its own round trip, once per connection: outside the transaction, as psycopg's
            error = named.failure(pgconn, named.run(conn, prepare.encode()))
            if error is not None:
                names.forget()
                raise error
        results = named.run(conn, conn._get_tx_start_command() + f"; EXECUTE {name}({values})".encode())
        error = named.failure(pgconn, results)
        if error is not None:
            if not isinstance(error, named.GONE):
                raise error
            # Nothing ran in the transaction but its BEGIN: end it, and let the cursor run the statement.
            names.off = True
            names.forget()
            named.run(conn, b"ROLLBACK")
            return None
    if logged:
        named.log(connection, sql, params, time.monotonic() - start)
    return named.load(context, results[-1])
