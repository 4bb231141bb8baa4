"""Running the kernel's migrations back and forth on one module's database, for migration tests.

``latest`` is the graph's leaf for the ``seams`` app, not a migration named in the test: a test
that put the database back to "its" migration would leave it without every later one, and the
tests after it (same session, same test database) would run on an old schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections
from django.db.migrations.executor import MigrationExecutor


def migrate(alias: str, target: tuple[str, str]) -> MigrationExecutor:
    """Migrate ``alias``'s ``seams`` tables to ``target``; a fresh executor (the graph as applied now)."""
    MigrationExecutor(connections[alias]).migrate([target])
    return MigrationExecutor(connections[alias])


def latest(alias: str) -> tuple[str, str]:
    """The last migration of the kernel's app."""
    (leaf,) = [node for node in MigrationExecutor(connections[alias]).loader.graph.leaf_nodes() if node[0] == "seams"]
    return leaf


@contextmanager
def at_migration(alias: str, target: tuple[str, str]) -> Iterator[MigrationExecutor]:
    """``alias``'s ``seams`` tables at ``target`` for the block (the executor of that state), put
    back to the latest migration afterwards, whatever happens."""
    executor = migrate(alias, target)
    try:
        yield executor
    finally:
        migrate(alias, latest(alias))


# Two subscribers of orders.OrderPlaced for the outbox migrations' live data: the test project's
# probe handler and a name the migrations never resolve (they copy rows, they do not deliver).
PROBE_SUBSCRIBERS = (("tests.eventprobe.handlers.record_order_placed", "eventprobe"), ("x.y.z", "inventory"))


def publication_rows(alias: str) -> list[tuple[object, ...]]:
    """The columns a migration of ``seams_publication`` must keep, every row in id order (the model
    is imported here, not at module level: the helpers are imported before Django is set up)."""
    from contracts.kernel.models import Publication

    fields = ("id", "position", "event_id", "subscriber", "status", "attempts", "key", "payload")
    return list(Publication.objects.using(alias).order_by("id").values_list(*fields))


def database_at(alias: str, target: tuple[str, str]) -> Any:
    """A pytest fixture named ``before``: ``alias``'s ``seams`` tables at ``target`` (the migration
    before the one a test file checks) for the test, put back to the latest afterwards
    (``at_migration``). Each migration test assigns it: ``before = database_at(ALIAS, BEFORE)``."""
    import pytest

    @pytest.fixture
    def before() -> Iterator[None]:
        with at_migration(alias, target):
            yield

    before.__doc__ = f"The {alias} database at {target[1]} for the test."
    return before


def assert_the_next_event_of_a_key_waits(alias: str, subscriber: tuple[str, str]) -> None:
    """After a migration of the open indexes, on an outbox whose key "7" still has an open
    publication for ``subscriber``: a new event of key "7" is written held back (pending), one of
    key "8" claimed. The ordering check reads those indexes, so a migration that broke their
    condition would let the later event run first."""
    import uuid

    from django.utils import timezone

    from contracts.kernel.outbox.statements import publish_rows

    now = timezone.now()
    values = (uuid.uuid4(), "orders.OrderPlaced", 1, "7", {"order_id": 7}, {}, "orders", now)
    _, written = publish_rows(alias, values, subscribers=[subscriber], now=now, claimed_by="w-1", lease_until=now)
    assert written[subscriber[0]][1] is False  # held back: pending behind the open publication of its key
    other = (uuid.uuid4(), *values[1:3], "8", *values[4:])
    _, written = publish_rows(alias, other, subscribers=[subscriber], now=now, claimed_by="w-1", lease_until=now)
    assert written[subscriber[0]][1] is True
