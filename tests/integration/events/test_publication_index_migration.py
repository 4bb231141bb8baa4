"""Migration 0006 drops ``seams_publication_once`` (unique event id and subscriber) on a live outbox.

From 0005 holding open and finished publications (one event with two subscribers), forward: every
row is kept as it was, the index is gone, the next event published is numbered above them and waits
behind the open one of its key. Backwards: the constraint is built again over the same rows.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connections
from django.utils import timezone

from contracts.kernel.models import Publication
from contracts.kernel.outbox.statements import publish_rows
from tests.support.migrating import PROBE_SUBSCRIBERS, database_at, migrate, publication_rows

ALIAS = "orders"
BEFORE, AFTER = ("seams", "0005_publication_finished_index"), ("seams", "0006_publication_no_event_index")
HANDLER, OTHER = PROBE_SUBSCRIBERS

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


before = database_at(ALIAS, BEFORE)


def publication_indexes() -> set[str]:
    connection = connections[ALIAS]
    with connection.cursor() as cursor:
        described = connection.introspection.get_constraints(cursor, "seams_publication")
    return set(described)


def rows() -> list[tuple[object, ...]]:
    return publication_rows(ALIAS)


def old_outbox() -> uuid.UUID:
    """Two events of key "7": the first to two subscribers (one completed, one still pending), the
    second to one; written by the kernel's own publishing statement, which 0005's schema takes."""
    now = timezone.now()
    first = uuid.uuid4()
    publish_rows(ALIAS, (first, "orders.OrderPlaced", 1, "7", {"order_id": 7}, {}, "orders", now), subscribers=[HANDLER, OTHER], now=now)
    publish_rows(ALIAS, (uuid.uuid4(), "orders.OrderPlaced", 1, "7", {"order_id": 7}, {}, "orders", now), subscribers=[HANDLER], now=now)
    Publication.objects.using(ALIAS).filter(event_id=first, subscriber=OTHER[0]).update(status="completed", completed_at=now)
    return first


def test_the_index_goes_and_every_row_stays(before: None) -> None:
    assert "seams_publication_once" in publication_indexes()
    old_outbox()
    kept = rows()
    migrate(ALIAS, AFTER)
    assert "seams_publication_once" not in publication_indexes()
    assert {"seams_pub_due", "seams_pub_key_open", "seams_pub_finished"} <= publication_indexes()
    assert rows() == kept


def test_the_next_event_is_numbered_above_and_waits_behind_the_open_one_of_its_key(before: None) -> None:
    old_outbox()
    top = max(position for _, position, *_ in rows())
    migrate(ALIAS, AFTER)
    now = timezone.now()
    values = (uuid.uuid4(), "orders.OrderPlaced", 1, "7", {"order_id": 7}, {}, "orders", now)
    position, written = publish_rows(ALIAS, values, subscribers=[HANDLER], now=now, claimed_by="w-1", lease_until=now)
    assert position > top
    assert written[HANDLER[0]][1] is False  # held back: not written claimed, pending behind its key


def test_it_runs_backwards_to_the_constraint(before: None) -> None:
    old_outbox()
    migrate(ALIAS, AFTER)
    kept = rows()
    migrate(ALIAS, BEFORE)
    assert "seams_publication_once" in publication_indexes()
    assert rows() == kept
