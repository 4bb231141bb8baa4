"""What a piece of work costs the databases: statements sent and durable commits, over every alias.

``count_costs()`` is a context manager around Django's ``CaptureQueriesContext`` on every connection
of this thread (the one Django itself uses in ``assertNumQueries``), so it counts what Django sends:
every ORM statement, savepoints, and the ``BEGIN``/``COMMIT``/``ROLLBACK`` of each transaction.
A *durable commit* is a point where the database must make a write durable (an fsync, or a WAL
flush): the ``COMMIT`` of a transaction that wrote something, or a write statement run outside any
transaction (autocommit). A read-only transaction's commit is not one.

On PostgreSQL it also counts *round trips*: how often this process waited for the server, read
off the wire (libpq's protocol trace of each connection, one ``ReadyForQuery`` per round trip). Two
statements can share one (``BEGIN`` and the handler's first statement do,
``contracts/kernel/outbox/begin_psycopg.py``), and on a loopback connection a round trip costs about
what a short statement does.

Used by ``bench/events.py`` (queries and commits per event and per order) and by the tests that
pin those counts (``tests/integration/test_order_flow_costs.py``), so both count the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Costs", "count_costs", "is_write", "wire_of"]

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def is_write(sql: str) -> bool:
    """Does this statement change rows? (``WITH ... INSERT/UPDATE/DELETE`` included.)"""
    head = sql.lstrip().upper()
    if head.startswith(_WRITES):
        return True
    if head.startswith("WITH"):
        return any(f" {verb} " in f" {head} " for verb in _WRITES)
    return False


@dataclass
class Costs:
    """Statements and durable commits per database alias, filled when the ``count_costs`` block ends."""

    queries: dict[str, int] = field(default_factory=dict)
    commits: dict[str, int] = field(default_factory=dict)
    statements: dict[str, list[str]] = field(default_factory=dict)
    #: PostgreSQL aliases only (psycopg 3): round trips to the server during the block.
    round_trips: dict[str, int] = field(default_factory=dict)

    @property
    def total_round_trips(self) -> int | None:
        """Round trips over every PostgreSQL alias; None when none was traced (SQLite)."""
        return sum(self.round_trips.values()) if self.round_trips else None

    @property
    def total_queries(self) -> int:
        return sum(self.queries.values())

    @property
    def total_commits(self) -> int:
        return sum(self.commits.values())

    def describe(self) -> str:
        """One line per alias with its statements: what to read when a count changes."""
        lines = []
        for alias, sqls in self.statements.items():
            lines.append(f"{alias}: {self.queries[alias]} queries, {self.commits[alias]} durable commits")
            lines += [f"    {sql[:160]}" for sql in sqls]
        return "\n".join(lines)

    def add(self, alias: str, sqls: list[str]) -> None:
        self.statements[alias] = sqls
        self.queries[alias] = len(sqls)
        self.commits[alias] = durable_commits(sqls)


def durable_commits(sqls: list[str]) -> int:
    """Commits that had to be durable, read from one connection's statements in order."""
    commits = 0
    in_transaction = wrote = False
    for sql in sqls:
        head = sql.lstrip().upper()
        if head.startswith("BEGIN"):
            in_transaction, wrote = True, False
        elif head.startswith("COMMIT"):
            commits += wrote
            in_transaction = wrote = False
        elif head.startswith("ROLLBACK") and not head.startswith("ROLLBACK TO"):
            in_transaction = wrote = False
        elif is_write(sql):
            if in_transaction:
                wrote = True
            else:
                commits += 1  # autocommit: the statement is its own transaction
    return commits


@contextlib.contextmanager
def count_costs(aliases: list[str] | None = None) -> Iterator[Costs]:
    """Count the statements and durable commits of the block on ``aliases`` (default: every alias)."""
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    costs = Costs()
    captures = {alias: CaptureQueriesContext(connections[alias]) for alias in (aliases or list(connections))}
    with contextlib.ExitStack() as stack:
        for capture in captures.values():
            stack.enter_context(capture)
        traces = {alias: stack.enter_context(wire_of(connections[alias])) for alias in captures if connections[alias].vendor == "postgresql"}
        yield costs
    for alias, capture in captures.items():
        costs.add(alias, [query["sql"] for query in capture.captured_queries])
    for alias, trace in traces.items():
        if trace:
            costs.round_trips[alias] = sum("\tReadyForQuery\t" in line for line in trace)


@contextlib.contextmanager
def wire_of(connection: Any) -> Iterator[list[str]]:
    """The protocol messages of ``connection`` during the block (libpq's ``PQtrace``), filled when
    it ends; left empty for a driver other than psycopg 3."""
    import tempfile

    lines: list[str] = []
    connection.ensure_connection()
    pgconn = getattr(connection.connection, "pgconn", None)
    if pgconn is None or not hasattr(pgconn, "trace"):
        yield lines
        return
    from psycopg.pq import Trace

    with tempfile.TemporaryFile("w+") as sink:
        pgconn.trace(sink.fileno())
        pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        try:
            yield lines
        finally:
            pgconn.untrace()
            sink.seek(0)
            lines.extend(sink.read().splitlines())
