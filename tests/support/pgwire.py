"""What a PostgreSQL connection of the test sends and receives: libpq's protocol trace (``PQtrace``).

``wire(alias)`` collects the messages of ``alias``'s psycopg connection during a block; a round trip
is one ``ReadyForQuery`` from the server; ``queries`` are the simple-protocol ``Query`` messages sent
(``BEGIN``, ``COMMIT`` and the outbox's statements that ride with them), their text.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from django.db import connections

from bench.costs import wire_of

__all__ = ["queries", "round_trips", "status", "wire"]


def wire(alias: str) -> AbstractContextManager[list[str]]:
    """The frontend and backend messages of ``alias``'s connection during the block, filled when it
    ends (``bench.costs.wire_of``, which counts the bench's round trips the same way)."""
    return wire_of(connections[alias])


def round_trips(lines: list[str]) -> int:
    return sum("\tReadyForQuery\t" in line for line in lines)


def queries(lines: list[str]) -> list[str]:
    """The simple-protocol queries sent (``Query`` messages), their text."""
    return [line.split("\tQuery\t", 1)[1].strip().strip('"') for line in lines if line.startswith("F\t") and "\tQuery\t" in line]


def status(alias: str) -> str:
    """The server's transaction status of ``alias``'s connection: IDLE, INTRANS, INERROR..."""
    from psycopg.pq import TransactionStatus

    return TransactionStatus(connections[alias].connection.pgconn.transaction_status).name
