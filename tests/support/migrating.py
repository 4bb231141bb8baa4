"""Running the kernel's migrations back and forth on one module's database, for migration tests.

``latest`` is the graph's leaf for the ``seams`` app, not a migration named in the test: a test
that put the database back to "its" migration would leave it without every later one, and the
tests after it (same session, same test database) would run on an old schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
