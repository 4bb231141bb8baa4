"""Migration 0008 writes the open partial indexes' condition as equalities on a live outbox.

From 0007 holding open and finished publications (an event with two subscribers, one of them done,
and a later event of its key), forward: every row is kept as it was, the two open indexes hold the
same rows under the new condition (SQLite reads them for the held check and the relay's due scan),
and the next event of the key still waits behind the open one. Backwards: the ``IN`` condition again,
the same rows.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connections
from django.utils import timezone

from contracts.kernel.models import Publication, open_condition
from contracts.kernel.outbox.statements import publish_rows
from tests.support.migrating import (
    PROBE_SUBSCRIBERS,
    assert_the_next_event_of_a_key_waits,
    database_at,
    migrate,
    publication_rows,
)

ALIAS = "orders"
BEFORE, AFTER = ("seams", "0007_inbox_one_btree"), ("seams", "0008_publication_open_equalities")
HANDLER, OTHER = PROBE_SUBSCRIBERS

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


before = database_at(ALIAS, BEFORE)


def rows() -> list[tuple[object, ...]]:
    return publication_rows(ALIAS)


def old_outbox() -> None:
    """Two events of key "7": the first to two subscribers (one completed, one still pending), the
    second to one; written by the kernel's own publishing statement, which 0007's schema takes."""
    now = timezone.now()
    first = uuid.uuid4()
    publish_rows(ALIAS, (first, "orders.OrderPlaced", 1, "7", {"order_id": 7}, {}, "orders", now), subscribers=[HANDLER, OTHER], now=now)
    publish_rows(ALIAS, (uuid.uuid4(), "orders.OrderPlaced", 1, "7", {"order_id": 7}, {}, "orders", now), subscribers=[HANDLER], now=now)
    Publication.objects.using(ALIAS).filter(event_id=first, subscriber=OTHER[0]).update(status="completed", completed_at=now)


def open_index_rows(index: str) -> list[int]:
    """The ids the index holds, read through it (SQLite's ``INDEXED BY``; PostgreSQL: the rows its
    condition selects, which is what it holds)."""
    connection = connections[ALIAS]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            column = "next_attempt_at" if index == "seams_pub_due" else "subscriber"
            cursor.execute(f"SELECT id FROM seams_publication INDEXED BY {index} WHERE {open_condition()} AND {column} IS NOT NULL ORDER BY id")
        else:
            cursor.execute(f"SELECT id FROM seams_publication WHERE {open_condition()} ORDER BY id")
        return [pk for (pk,) in cursor.fetchall()]


def index_condition(index: str) -> str:
    connection = connections[ALIAS]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = %s", [index])
        else:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s AND schemaname = current_schema()", [index])
        (sql,) = cursor.fetchone()
    return str(sql).split(" WHERE ", 1)[1]


def test_every_row_stays_and_the_open_indexes_hold_the_open_ones(before: None) -> None:
    old_outbox()
    kept = rows()
    open_ids = sorted(pk for pk, _, _, _, status, *_ in kept if status != "completed")
    assert len(open_ids) == 2
    migrate(ALIAS, AFTER)
    assert rows() == kept
    for index in ("seams_pub_due", "seams_pub_key_open"):
        condition = index_condition(index)
        assert " IN " not in condition.upper() and " = ANY " not in condition.upper(), condition
        assert open_index_rows(index) == open_ids


def test_the_next_event_of_the_key_still_waits_behind_the_open_one(before: None) -> None:
    old_outbox()
    migrate(ALIAS, AFTER)
    assert_the_next_event_of_a_key_waits(ALIAS, HANDLER)


def test_it_runs_backwards_to_the_in_condition(before: None) -> None:
    old_outbox()
    migrate(ALIAS, AFTER)
    kept = rows()
    migrate(ALIAS, BEFORE)
    assert rows() == kept
    for index in ("seams_pub_due", "seams_pub_key_open"):
        condition = index_condition(index).upper()
        assert " IN " in condition or " = ANY " in condition, condition
