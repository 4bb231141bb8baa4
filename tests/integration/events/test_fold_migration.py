"""Migration 0004 folds ``seams_outbox_event`` into ``seams_publication`` on a live outbox.

Run with the migration executor on one module's database, from the state before it (0003) holding
events with pending, processing, failed, dead and completed publications, and one event nobody
subscribed to; afterwards every publication holds its event, keeps its position, and the next
event published continues above every position, so per-key ordering holds across the migration.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator

import pytest
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from contracts.kernel.models import NO_SUBSCRIBER, Publication
from contracts.kernel.operations import unsubscribed_events
from contracts.kernel.outbox.statements import publish_rows
from tests.support.migrating import at_migration

ALIAS = "orders"
BEFORE, AFTER = ("seams", "0003_publication_event_no_extra_index"), ("seams", "0004_fold_event_into_publication")
HANDLER = "tests.eventprobe.handlers.record_order_placed"

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def migrate(target: tuple[str, str]) -> MigrationExecutor:
    executor = MigrationExecutor(connections[ALIAS])
    executor.migrate([target])
    return MigrationExecutor(connections[ALIAS])  # a fresh loader: the graph as applied now


@pytest.fixture
def before() -> Iterator[MigrationExecutor]:
    """The module's database at 0003; put back to the latest migration afterwards (not 0004: every
    later one too), whatever happens."""
    with at_migration(ALIAS, BEFORE) as executor:
        yield executor


def old_outbox(executor: MigrationExecutor) -> dict[str, object]:
    """Three events in the old layout, their positions far above the publications' ids (as when
    events nobody subscribed to took positions), written through 0003's historical models."""
    apps = executor.loader.project_state([BEFORE]).apps
    event_model, publication_model = apps.get_model("seams", "OutboxEvent"), apps.get_model("seams", "Publication")
    now = timezone.now()
    events = {}
    for position, key in ((500, "7"), (501, "7"), (502, None)):
        events[position] = event_model.objects.using(ALIAS).create(
            position=position, event_id=uuid.uuid4(), type="orders.OrderPlaced" if key else "orders.OrderShipped",
            version=1, key=key, payload={"order_id": position, "customer_email": "a@example.com", "lines": [], "total_cents": 0},
            headers={"traceparent": f"00-{position:032x}-{1:016x}-01"}, publisher="orders", occurred_at=now,
        )
    rows = [
        (500, HANDLER, "eventprobe", "dead", 6),
        (500, "modules.inventory.handlers.reserve_stock_for_placed_order", "inventory", "completed", 1),
        (501, HANDLER, "eventprobe", "pending", 0),
        (501, "modules.inventory.handlers.reserve_stock_for_placed_order", "inventory", "failed", 2),
    ]
    for position, subscriber, module, status, attempts in rows:
        publication_model.objects.using(ALIAS).create(
            event=events[position], position=position, key=events[position].key, event_type=events[position].type,
            subscriber=subscriber, subscriber_module=module, status=status, attempts=attempts, created_at=now,
            next_attempt_at=now, last_error="boom" if status in ("dead", "failed") else "",
            completed_at=now if status == "completed" else None,
        )
    return {"events": events, "rows": rows}


def test_every_publication_gets_its_event_and_keeps_its_position(before: MigrationExecutor) -> None:
    old = old_outbox(before)
    migrate(AFTER)

    events = old["events"]
    found = {(p.position, p.subscriber): p for p in Publication.objects.using(ALIAS).all()}
    assert len(found) == 5  # four publications and the record of the event nobody subscribed to
    for position, subscriber, module, status, attempts in old["rows"]:  # type: ignore[attr-defined]
        p, event = found[(position, subscriber)], events[position]  # type: ignore[index]
        assert (p.status, p.attempts, p.subscriber_module) == (status, attempts, module)
        assert (p.event_id, p.event_type, p.version, p.key) == (event.event_id, event.type, 1, event.key)
        assert (p.payload, p.headers, p.publisher, p.occurred_at) == (event.payload, event.headers, "orders", event.occurred_at)
    unheard = found[(502, NO_SUBSCRIBER)]
    assert unheard.event_id == events[502].event_id and unheard.status == "completed"  # type: ignore[index]
    assert unsubscribed_events(module=ALIAS) == [(ALIAS, "orders.OrderShipped", 1)]


def test_the_next_event_is_numbered_above_every_migrated_one(before: MigrationExecutor) -> None:
    old_outbox(before)
    migrate(AFTER)

    now = timezone.now()
    values = (uuid.uuid4(), "orders.OrderPlaced", 1, "7", {"order_id": 9}, {}, "orders", now)
    position, written = publish_rows(ALIAS, values, subscribers=[(HANDLER, "eventprobe"), ("x.y.z", "inventory")], now=now)
    assert position > 502
    rows = Publication.objects.using(ALIAS).filter(event_id=values[0])
    assert sorted(rows.values_list("position", flat=True)) == [position, position]  # shared by its publications
    # Behind the migrated pending publication of key "7": the new one waits, in order.
    later = Publication.objects.using(ALIAS).get(pk=written[HANDLER][0])
    assert later.status == "pending" and later.position > 501


def test_it_runs_backwards_to_events_and_their_publications(before: MigrationExecutor) -> None:
    old_outbox(before)
    migrate(AFTER)
    executor = migrate(BEFORE)

    apps = executor.loader.project_state([BEFORE]).apps
    event_model, publication_model = apps.get_model("seams", "OutboxEvent"), apps.get_model("seams", "Publication")
    assert sorted(event_model.objects.using(ALIAS).values_list("position", flat=True)) == [500, 501, 502]
    linked = publication_model.objects.using(ALIAS).values_list("event__position", "position")
    assert sorted(linked) == [(500, 500), (500, 500), (501, 501), (501, 501)]


def test_positions_only_grow_also_after_the_highest_rows_are_deleted() -> None:
    """Positions only grow: two events in a row, the second numbered above the first, also after
    the highest rows are deleted (completion mode ``delete``)."""
    now = timezone.now() - datetime.timedelta(seconds=1)
    first, _ = publish_rows(ALIAS, (uuid.uuid4(), "orders.OrderPlaced", 1, "1", {}, {}, "orders", now),
                            subscribers=[(HANDLER, "eventprobe")], now=now)
    Publication.objects.using(ALIAS).filter(position=first).delete()
    second, _ = publish_rows(ALIAS, (uuid.uuid4(), "orders.OrderPlaced", 1, "1", {}, {}, "orders", now),
                             subscribers=[(HANDLER, "eventprobe")], now=now)
    assert second > first
