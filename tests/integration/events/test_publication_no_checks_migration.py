"""Migration 0009 drops ``seams_publication``'s two check constraints on PostgreSQL, on a live outbox.

From 0008 holding open and finished publications (an event with two subscribers, one of them done,
and a later event of its key), forward: every row is kept as it was, PostgreSQL's table has no check
constraint left (each one was parsed and compiled anew by every publish and completion), SQLite's
keeps its own, and publishing, holding back and completing work as before. Backwards: the two
constraints again on PostgreSQL, validated against the rows, the same rows.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connections
from django.utils import timezone

from contracts.kernel.models import Publication
from contracts.kernel.outbox.statements import complete_publications, publish_rows
from tests.support.migrating import PROBE_SUBSCRIBERS, database_at, migrate, publication_rows

ALIAS = "orders"
BEFORE, AFTER = ("seams", "0008_publication_open_equalities"), ("seams", "0009_publication_no_checks_on_postgresql")
HANDLER, OTHER = PROBE_SUBSCRIBERS

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


before = database_at(ALIAS, BEFORE)


def old_outbox() -> None:
    """Two events of key "7": the first to two subscribers (one completed, one still pending), the
    second to one, held back behind it; written by the kernel's own publishing statement."""
    now = timezone.now()
    first = uuid.uuid4()
    publish_rows(ALIAS, (first, "orders.OrderPlaced", 1, "7", {"order_id": 7}, {}, "orders", now), subscribers=[HANDLER, OTHER], now=now)
    publish_rows(ALIAS, (uuid.uuid4(), "orders.OrderPlaced", 1, "7", {"order_id": 7}, {}, "orders", now), subscribers=[HANDLER], now=now)
    Publication.objects.using(ALIAS).filter(event_id=first, subscriber=OTHER[0]).update(status="completed", completed_at=now)


def checks() -> list[str]:
    """The check constraints on ``attempts`` and ``version`` of the module's publication table (their
    SQL; SQLite's JSON columns have checks of their own, not counted)."""
    connection = connections[ALIAS]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'seams_publication'")
            (sql,) = cursor.fetchone()
            parts = [part.strip() for part in str(sql).split(",") if "CHECK" in part.upper()]
            return [part for part in parts if '"attempts"' in part or '"version"' in part]
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'seams_publication'::regclass AND contype = 'c'"
            " ORDER BY conname"
        )
        return [sql for (sql,) in cursor.fetchall()]


def test_every_row_stays_and_postgresql_keeps_no_check(before: None) -> None:
    old_outbox()
    kept = publication_rows(ALIAS)
    assert len(checks()) == 2
    migrate(ALIAS, AFTER)
    assert publication_rows(ALIAS) == kept
    if connections[ALIAS].vendor == "postgresql":
        assert checks() == []
    else:
        assert len(checks()) == 2  # SQLite's table is left as it was


def test_publishing_holding_back_and_completing_still_work(before: None) -> None:
    old_outbox()
    migrate(ALIAS, AFTER)
    now = timezone.now()
    values = (uuid.uuid4(), "orders.OrderPlaced", 1, "7", {"order_id": 7}, {}, "orders", now)
    _, written = publish_rows(ALIAS, values, subscribers=[HANDLER], now=now, claimed_by="w-1", lease_until=now)
    assert written[HANDLER[0]][1] is False  # held back: pending behind the open publication of its key
    _, other = publish_rows(ALIAS, (*values[:3], "8", *values[4:]), subscribers=[HANDLER], now=now, claimed_by="w-1", lease_until=now)
    pk, claimed = other[HANDLER[0]]
    assert claimed is True
    assert complete_publications(ALIAS, [pk], now, claimed_by="w-1") == []
    assert Publication.objects.using(ALIAS).get(pk=pk).status == "completed"


def test_it_runs_backwards_to_the_checks(before: None) -> None:
    old_outbox()
    migrate(ALIAS, AFTER)
    kept = publication_rows(ALIAS)
    migrate(ALIAS, BEFORE)
    assert publication_rows(ALIAS) == kept
    found = checks()
    assert len(found) == 2, found
    assert any("attempts" in sql for sql in found) and any("version" in sql for sql in found), found
