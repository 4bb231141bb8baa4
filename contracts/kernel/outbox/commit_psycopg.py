"""The publisher's publications written in its COMMIT's round trip, on PostgreSQL with psycopg 3.

Why: the publisher's transaction was four round trips, ``BEGIN`` with its own first statement, the
rest of its own statements, the publications' ``INSERT`` (run when ``publish`` is called) and
``COMMIT``; hand-written code without an outbox sends the same minus the ``INSERT``. On a loopback
connection of a 2-core machine a round trip costs about what a short statement does
(docs/events.md, "Round trips"). Queued here instead, the ``INSERT`` goes with the ``COMMIT``: one
simple query, ``SAVEPOINT seams_publish; EXECUTE seams_N(<literals>); RELEASE SAVEPOINT
seams_publish; COMMIT``, the statement prepared once per connection (``named_psycopg``). Several
publications of one transaction go together, in the order they were published.

What does not change: the rows are written in the publisher's transaction, before its commit, or
not at all (a transaction that sent nothing else yet gets its ``BEGIN`` in the same query). A
publication queued inside a savepoint that is rolled back is dropped with it: the
queue *is* Django's list of commit callbacks (``connection.run_on_commit``, a ``Queued`` entry per
publication), which Django already trims when a savepoint rolls back and empties when the
transaction does. The commit is Django's (``connection._commit``, wrapped for that one commit): it
sends the queued statements with the ``COMMIT``, then runs Django's own commit, whose ``COMMIT``
psycopg skips since the server has committed; Django logs it and runs the commit callbacks, the
dispatch among them, which reads the rows written (``Queued.result``).

What changes: the statement runs at the commit, not when ``publish`` is called, so a later read of
the outbox table *in the same transaction* does not see the row (the kernel never reads it there,
and a test transaction, which never commits, is not queued: ``TestCase``'s atomic block), and a
failure of the ``INSERT`` is raised by the commit, which then rolls the whole transaction back, as
it would any failed statement. Anything going wrong with the way itself (the named statement gone,
its ``PREPARE`` refused) is rolled back to the savepoint and the statements run through the cursor
before the ``COMMIT`` goes alone: the transaction never fails for it. Not queued (the caller runs
the statement at once, as before): outside an atomic block, with ``execute_wrappers``, a
pipeline, values it does not write as literals, or ``SEAMS_EVENTS['PREPARED_STATEMENTS'] = False``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.pq import ExecStatus, TransactionStatus

from . import named_psycopg as named

__all__ = ["Queued", "queue"]

logger = logging.getLogger(__name__)

_IDLE, _INTRANS, _INERROR = TransactionStatus.IDLE, TransactionStatus.INTRANS, TransactionStatus.INERROR
#: A transaction psycopg has begun, or one Django's atomic block opened that has sent nothing yet.
_OPEN = (_IDLE, _INTRANS)
_TUPLES_OK = ExecStatus.TUPLES_OK
_SAVEPOINT = "seams_publish"

#: How a kept psycopg cursor of the connection is had (``prepared_psycopg._kept``): its adapters load the rows.
Kept = Callable[[BaseDatabaseWrapper], Any]


class Queued:
    """A statement queued to run with its transaction's ``COMMIT``; ``result()`` its rows once it ran.

    It is also the commit callback Django keeps for it (``connection.on_commit``): so it lives and
    dies with the savepoint it was queued in. Called after the commit, it finds its rows in; if a
    commit went round the wrapped ``_commit`` (it cannot through Django), it writes them then and
    says so: late, outside the publisher's transaction, but not lost."""

    __slots__ = ("connection", "kept", "params", "rows", "sql", "types", "values")

    def __init__(self, connection: BaseDatabaseWrapper, sql: str, params: list[Any], written: tuple[str, tuple[str, ...]], kept: Kept) -> None:
        self.connection, self.sql, self.params, self.kept = connection, sql, params, kept
        self.values, self.types = written
        self.rows: list[tuple[Any, ...]] | None = None

    def __call__(self) -> None:
        if self.rows is None:
            logger.error("a queued outbox statement was not sent with its COMMIT; written now, after it: %s", self.sql[:80])
            self.run_alone()

    def result(self) -> list[tuple[Any, ...]]:
        if self.rows is None:
            self.run_alone()
        return self.rows  # type: ignore[return-value]

    def run_alone(self) -> None:
        """Run the statement through the cursor now, as it would have run without the queue."""
        with _cursor(self.connection) as cursor:
            cursor.execute(self.sql, self.params)
            self.rows = cursor.fetchall()


def _cursor(connection: BaseDatabaseWrapper) -> Any:
    from . import prepared

    return prepared.cursor(connection)


def queue(connection: BaseDatabaseWrapper, sql: str, params: list[Any], kept: Kept) -> Queued | None:
    """Queue ``sql`` (``%s`` markers) on ``params`` to run with ``connection``'s ``COMMIT``, in its
    round trip; None when it cannot be (the caller runs it now)."""
    conn = named.usable(connection)
    if conn is None or conn.pgconn.transaction_status not in _OPEN:
        return None
    if any(block._from_testcase for block in connection.atomic_blocks):
        return None  # a test's transaction never commits: the rows would never be written
    written = named.literals(conn.pgconn, params)
    if written is None:
        return None
    queued = Queued(connection, sql, params, written, kept)
    connection.on_commit(queued)
    if "_commit" not in connection.__dict__:
        connection.__dict__["_commit"] = _committing(connection)
    return queued


def _committing(connection: BaseDatabaseWrapper) -> Callable[[], Any]:
    """``connection._commit`` for one commit: the queued statements first, in the same round trip."""

    def _commit() -> Any:
        del connection.__dict__["_commit"]  # Django's own again, for this commit's end and every later one
        queued = [entry[1] for entry in connection.run_on_commit if type(entry[1]) is Queued and entry[1].rows is None]
        if queued:
            _send_with_commit(connection, queued)
        return connection._commit()

    return _commit


def _send_with_commit(connection: BaseDatabaseWrapper, queued: list[Queued]) -> None:
    conn = named.usable(connection, committing=True)
    if conn is None or conn.pgconn.transaction_status not in _OPEN:
        for item in queued:
            item.run_alone()
        return
    pgconn, names = conn.pgconn, named.names_of(conn)
    # Nothing else ran in the transaction (it published first and did nothing after): psycopg has
    # not begun it, so its BEGIN goes too, and the whole transaction is one round trip.
    parts = [conn._get_tx_start_command().decode()] if pgconn.transaction_status == _IDLE else []
    parts.append(f"SAVEPOINT {_SAVEPOINT}")
    for item in queued:
        name, prepare = names.prepare(item.sql, item.types)
        if prepare:
            parts.append(prepare)
        parts.append(f"EXECUTE {name}({item.values})")
    parts += [f"RELEASE SAVEPOINT {_SAVEPOINT}", "COMMIT"]
    logged = connection.queries_logged
    start = time.monotonic() if logged else 0.0
    with connection.wrap_database_errors, conn.lock:
        results = named.run(conn, "; ".join(parts).encode())
        error = named.failure(pgconn, results)
        if error is not None and pgconn.transaction_status != _INERROR:
            raise error  # the COMMIT itself failed (a deferred constraint, serialization): the transaction is over
        if error is not None:  # one of ours failed, inside the savepoint
            names.forget()
            if isinstance(error, named.GONE):
                names.off = True  # dropped behind our back (a pooler, DISCARD ALL): the cursor from now on
            back = named.failure(pgconn, named.run(conn, f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}; RELEASE SAVEPOINT {_SAVEPOINT}".encode()))
            if back is not None:
                raise back from error
    if error is not None:  # the transaction is as it was before the savepoint: run them as before
        logger.warning("outbox statements could not ride with the COMMIT (%s); sent one by one", error)
        for item in queued:
            item.run_alone()
        return
    written = [result for result in results if result.status == _TUPLES_OK]
    raw = queued[0].kept(connection)
    try:
        for item, result in zip(queued, written, strict=True):
            item.rows = named.load(raw, result)
    finally:
        raw.close()
    if logged:
        share = (time.monotonic() - start) / len(queued)
        for item in queued:
            named.log(connection, item.sql, item.params, share)
