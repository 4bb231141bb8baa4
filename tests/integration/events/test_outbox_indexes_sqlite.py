"""On SQLite too, the outbox's readers go through an index of the rows they want, however many
finished publications the table keeps (``COMPLETION = 'keep'``): purging and dead letters through
``seams_pub_finished`` (finished rows only), the relay, the lease expiry and the backlog gauges
through the open partial index ``seams_pub_due``.

SQLite uses a partial index only when the query's WHERE repeats a term of the index's condition,
matching bound values against its literals only for ``=`` (never inside an ``IN`` list): these tests
``EXPLAIN QUERY PLAN`` each statement with the values it was sent with, so a change to an index, its
condition or a reader's filter that makes one of them read the whole table fails here.
``test_outbox_indexes.py`` checks PostgreSQL's plans."""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.db import connections, transaction
from django.test import override_settings
from django.utils import timezone

from bench.dispatching import RecordingCelery
from contracts.kernel import operations
from contracts.kernel.models import Publication, PublicationStatus, open_condition
from contracts.kernel.outbox import due_publications, release_expired_leases
from contracts.kernel.telemetry.metrics import outbox_backlog
from extraction.console.selectors import dead_letters, module_numbers

ALIAS = "orders"
HANDLER = "tests.eventprobe.handlers.record_order_placed"
FINISHED, OPEN = 400, 8

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def history() -> None:
    """Many completed publications (some recording events nobody subscribed to), a few dead and open ones."""
    if connections[ALIAS].vendor != "sqlite":
        pytest.skip("SQLite's query plans; test_outbox_indexes.py checks PostgreSQL's")
    month_ago = timezone.now() - datetime.timedelta(days=30)
    statuses = [PublicationStatus.COMPLETED] * FINISHED + [PublicationStatus.DEAD] * 4
    statuses += [PublicationStatus.PENDING, PublicationStatus.PROCESSING, PublicationStatus.FAILED] * (OPEN // 3 + 1)
    Publication.objects.using(ALIAS).bulk_create(
        Publication(event_id=uuid.uuid4(), position=n + 1, key=str(n % 50), event_type="orders.OrderPlaced", publisher="orders",
                    occurred_at=month_ago, payload={"order_id": n}, subscriber="" if n % 10 == 0 and status == PublicationStatus.COMPLETED else HANDLER,
                    subscriber_module="eventprobe", status=status, attempts=1, created_at=month_ago, next_attempt_at=month_ago,
                    lease_until=month_ago if status == PublicationStatus.PROCESSING else None,
                    completed_at=month_ago if status == PublicationStatus.COMPLETED else None)
        for n, status in enumerate(statuses)
    )


def plans_of(action: Callable[[], object], sent: list[int] | None = None) -> dict[str, list[str]]:
    """``EXPLAIN QUERY PLAN`` of every statement ``action()`` sends to the module's database that reads
    ``seams_publication``, with the values it was sent with (SQL -> plan lines); all rolled back.
    Publications it dispatches go to a Celery app that records them (appended to ``sent``): no
    handler runs, so the plans are the action's own."""
    connection = connections[ALIAS]
    ran: list[tuple[str, Any]] = []

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        ran.append((sql, params))
        return execute(sql, params, many, context)

    with (
        override_settings(SEAMS_EVENTS={**settings.SEAMS_EVENTS, "DISPATCH": "celery"}),
        RecordingCelery().as_current() as celery,
        transaction.atomic(using=ALIAS),
        connection.execute_wrapper(record),
    ):
        action()
        transaction.set_rollback(True, using=ALIAS)
    if sent is not None:
        sent.extend(celery.publications)
    plans = {}
    with connection.cursor() as cursor:
        for sql, params in ran:
            if re.search(r"\bseams_publication\b(?!_)", sql) and not sql.lstrip().startswith(("SAVEPOINT", "RELEASE", "INSERT")):
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
                plans[sql] = [row[3] for row in cursor.fetchall()]
    assert plans, "captured no query of seams_publication"
    return plans


def assert_through(index: str, plans: dict[str, list[str]]) -> None:
    """Each statement reads seams_publication through ``index`` and never scans the table itself."""
    for sql, lines in plans.items():
        reads = [line for line in lines if " seams_publication " in f"{line} " and "INTEGER PRIMARY KEY" not in line]
        assert reads, (sql, lines)
        for line in reads:
            assert f"USING INDEX {index}" in line or f"USING COVERING INDEX {index}" in line, (sql, lines)


def test_the_status_index_holds_finished_rows_only(history: None) -> None:
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'seams_publication'")
        indexes = dict(cursor.fetchall())
    assert "seams_pub_status" not in indexes, "an index over every row's status is back: each publish writes it"
    assert "sqlite_autoindex_seams_publication_1" not in indexes and not any("event_id" in (sql or "") for sql in indexes.values()), (
        "an index on the event id is back (seams_publication_once until 0006): each publish writes it, nothing reads it"
    )
    condition = indexes["seams_pub_finished"].split(" WHERE ", 1)[1]
    assert "'completed'" in condition and "'dead'" in condition, condition
    assert not any(f"'{s}'" in condition for s in ("pending", "processing", "failed")), condition


def test_purging_reads_the_completed_rows_through_the_finished_index(history: None) -> None:
    purged: list[int] = []
    plans = plans_of(lambda: purged.append(operations.purge_completed(datetime.timedelta(days=1))))
    assert purged == [FINISHED - FINISHED // 10]  # the records of events nobody subscribed to go too, uncounted
    assert_through("seams_pub_finished", plans)


def test_dead_letters_and_listing_by_a_finished_status_read_the_finished_index(history: None) -> None:
    found: list[int] = []
    plans = plans_of(lambda: found.append(len(dead_letters())))
    plans.update(plans_of(lambda: found.append(len(operations.list_publications(status="completed", module=ALIAS, limit=5)))))
    assert found == [4, 5]
    assert_through("seams_pub_finished", plans)


def dispatchers_read(plans: dict[str, list[str]], sent: list[int]) -> dict[str, list[str]]:
    """The plans without the Celery dispatcher's read of the queues of the publications it sent (by
    primary key, checked here): what is left are the resubmitting operation's own reads."""
    read = [sql for sql in plans if sql.lstrip().startswith("SELECT") and '"seams_publication"."id" IN (' in sql]
    assert len(read) == 1 and sent, (read, sent)
    assert all("INTEGER PRIMARY KEY" in line for line in plans[read[0]]), plans[read[0]]
    return {sql: lines for sql, lines in plans.items() if sql != read[0]}


def test_resubmitting_dead_letters_reads_the_dead_rows_only(history: None) -> None:
    resubmitted: list[int] = []
    sent: list[int] = []
    plans = dispatchers_read(plans_of(lambda: resubmitted.append(operations.resubmit(module="orders", dead_only=True)), sent), sent)
    assert resubmitted == [4] and len(sent) == 4  # dispatched again, to a Celery app that records them
    first_select = next(sql for sql in plans if sql.lstrip().startswith("SELECT"))
    assert_through("seams_pub_finished", {first_select: plans[first_select]})


@pytest.mark.parametrize(
    "resubmitting",
    [
        pytest.param(lambda: operations.resubmit(module="orders"), id="module"),
        pytest.param(lambda: operations.resubmit(event_type="orders.OrderPlaced"), id="event-type"),
    ],
)
def test_resubmitting_failed_and_dead_rows_reads_each_through_its_index(history: None, resubmitting: Callable[[], int]) -> None:
    """Until 2026-12-02 one read of ``status = 'dead' OR status = 'failed'``: SQLite scanned the
    whole table for it. Now the dead rows through seams_pub_finished, the failed ones through the
    open partial index."""
    resubmitted: list[int] = []
    sent: list[int] = []
    plans = dispatchers_read(plans_of(lambda: resubmitted.append(resubmitting()), sent), sent)
    assert resubmitted == [4 + OPEN // 3 + 1] and len(sent) == resubmitted[0]  # the dead and the failed ones
    selects = [sql for sql in plans if sql.lstrip().startswith("SELECT")]
    assert len(selects) == 2, selects
    dead, failed = sorted(selects, key=lambda sql: open_condition() in sql)
    assert_through("seams_pub_finished", {dead: plans[dead]})
    assert_through("seams_pub_due", {failed: plans[failed]})


@pytest.mark.parametrize(
    "reader",
    [
        pytest.param(lambda: release_expired_leases(ALIAS), id="lease-expiry"),
        pytest.param(lambda: due_publications(ALIAS, 500), id="relay-scan"),
        pytest.param(outbox_backlog, id="backlog-gauge"),
        pytest.param(module_numbers, id="console-oldest-open"),
    ],
)
def test_readers_of_open_rows_read_the_open_partial_index(history: None, reader: Callable[[], object]) -> None:
    plans = plans_of(reader)
    open_reads = {
        sql: lines for sql, lines in plans.items()
        if open_condition() in sql and not sql.lstrip().startswith("UPDATE \"seams_publication\" SET \"dispatched_at\"")
    }  # fmt: skip
    assert open_reads, plans
    assert_through("seams_pub_due", open_reads)
