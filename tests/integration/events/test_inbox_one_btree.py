"""The inbox is one b-tree (migration 0007): its primary key is (event id, subscriber).

Each handled event writes the row once, in its key's b-tree: on SQLite a ``WITHOUT ROWID`` table
with no index besides, on PostgreSQL the heap and its primary key, nothing more. The key still
refuses a second row for one event and subscriber (exactly-once effect), also for rows that were
there before the migration, and the migration keeps every row, forward and back.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from contracts.kernel.models import InboxEntry
from contracts.kernel.outbox.statements import insert_inbox
from tests.support.migrating import database_at, migrate

ALIAS = "notifications"
BEFORE, AFTER = ("seams", "0006_publication_no_event_index"), ("seams", "0007_inbox_one_btree")
ONE, TWO = "modules.notifications.handlers.email_order_confirmation", "modules.notifications.handlers.email_order_cancellation"

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def inbox_indexes() -> set[str]:
    connection = connections[ALIAS]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'seams_inbox'")
        else:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'seams_inbox'")
        return {name for (name,) in cursor.fetchall()}


def handled() -> list[tuple[uuid.UUID, str]]:
    return sorted(InboxEntry.objects.using(ALIAS).values_list("event_id", "subscriber"))


def refused(event_id: uuid.UUID, subscriber: str) -> bool:
    try:
        with transaction.atomic(using=ALIAS):
            insert_inbox(ALIAS, event_id, subscriber, timezone.now())
    except IntegrityError:
        return True
    return False


def test_the_inbox_is_one_b_tree_and_refuses_a_second_delivery() -> None:
    connection = connections[ALIAS]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'seams_inbox'")
            (sql,) = cursor.fetchone()
        assert "WITHOUT ROWID" in sql, f"seams_inbox is a rowid table again (rebuilt by Django?): {sql}"
        assert inbox_indexes() == set(), inbox_indexes()
    else:
        assert inbox_indexes() == {"seams_inbox_pkey"}, inbox_indexes()
    event = uuid.uuid4()
    assert not refused(event, ONE)
    assert not refused(event, TWO)  # the same event, another subscriber
    assert refused(event, ONE)
    assert handled() == sorted([(event, ONE), (event, TWO)])
    assert InboxEntry.objects.using(ALIAS).get(event_id=event, subscriber=ONE).pk == f"{event.hex}:{ONE}"


before = database_at(ALIAS, BEFORE)


def old_inbox() -> list[tuple[uuid.UUID, str]]:
    """Three handled (event, subscriber) pairs written through 0006's historical model (rowid,
    unique index): two subscribers of one event, the first of another (its second: not handled)."""
    apps = migrate(ALIAS, BEFORE).loader.project_state([BEFORE]).apps
    model = apps.get_model("seams", "InboxEntry")
    first, second = uuid.uuid4(), uuid.uuid4()
    pairs = [(first, ONE), (first, TWO), (second, ONE)]
    for event_id, subscriber in pairs:
        model.objects.using(ALIAS).create(event_id=event_id, subscriber=subscriber)
    return pairs


def test_every_row_is_kept_and_still_refuses_its_second_delivery(before: None) -> None:
    pairs = old_inbox()
    migrate(ALIAS, AFTER)
    assert handled() == sorted(pairs)
    for event_id, subscriber in pairs:
        assert InboxEntry.objects.using(ALIAS).get(event_id=event_id, subscriber=subscriber).pk == f"{event_id.hex}:{subscriber}"
        assert refused(event_id, subscriber)
    assert not refused(pairs[2][0], TWO)  # the second event's other subscriber: not handled yet, goes in


def test_it_runs_backwards_to_the_rowid_table_and_its_unique_index(before: None) -> None:
    pairs = old_inbox()
    migrate(ALIAS, AFTER)
    executor = migrate(ALIAS, BEFORE)
    model = executor.loader.project_state([BEFORE]).apps.get_model("seams", "InboxEntry")
    assert sorted(model.objects.using(ALIAS).values_list("event_id", "subscriber")) == sorted(pairs)
    assert len(set(model.objects.using(ALIAS).values_list("id", flat=True))) == 3
    with pytest.raises(IntegrityError), transaction.atomic(using=ALIAS):
        model.objects.using(ALIAS).create(event_id=pairs[0][0], subscriber=pairs[0][1])
    model.objects.using(ALIAS).create(event_id=pairs[2][0], subscriber=TWO)
