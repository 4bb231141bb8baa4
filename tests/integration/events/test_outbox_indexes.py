"""The relay's and the workers' queries use the partial indexes of open publications, so completed
rows kept in the table (``COMPLETION = 'keep'``) do not slow them; purging and dead letters use the
index of finished rows only (``seams_pub_finished``), which publishing never writes. PostgreSQL only:
the plans are PostgreSQL's (``test_outbox_indexes_sqlite.py`` checks SQLite's).
``bench/outbox_claim.py`` measures the same with a million completed rows."""

from __future__ import annotations

import datetime
import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contracts.kernel import operations
from contracts.kernel.models import Publication, PublicationStatus
from contracts.kernel.outbox import claim, due_publications, release_expired_leases
from contracts.kernel.outbox.statements import POSITION_SEQUENCE, publish_rows

ALIAS = "orders"
HANDLER = "tests.eventprobe.handlers.record_order_placed"
COMPLETED, PENDING, KEYS = 3000, 20, 300

pytestmark = pytest.mark.django_db(databases=[ALIAS])


@pytest.fixture
def backlog() -> list[int]:
    """Many completed publications (about ten per key), a few pending ones sharing their keys; ANALYZEd.
    Returns the ids of the pending ones."""
    if connections[ALIAS].vendor != "postgresql":
        pytest.skip("index plans are PostgreSQL's; run with DATABASE_URL=postgres://... (SQLite has no such planner)")
    month_ago = timezone.now() - datetime.timedelta(days=30)
    hour_ago = timezone.now() - datetime.timedelta(hours=1)
    specs = [(str(i % KEYS), PublicationStatus.COMPLETED, month_ago) for i in range(COMPLETED)]
    specs += [(str(i * (KEYS // PENDING)), PublicationStatus.PENDING, hour_ago) for i in range(PENDING)]
    with connections[ALIAS].cursor() as cursor:  # positions as the kernel takes them (migration 0004's sequence)
        cursor.execute(f"SELECT nextval('{POSITION_SEQUENCE}') FROM generate_series(1, %s)", [len(specs)])
        positions = [row[0] for row in cursor.fetchall()]
    publications = Publication.objects.using(ALIAS).bulk_create(
        Publication(event_id=uuid.uuid4(), position=position, key=key, event_type="orders.OrderPlaced", publisher="orders",
                    occurred_at=when, payload={"order_id": n, "customer_email": "a@example.com", "lines": [], "total_cents": 0},
                    subscriber=HANDLER, subscriber_module="eventprobe", status=status,
                    attempts=int(status == PublicationStatus.COMPLETED), created_at=when, next_attempt_at=when,
                    completed_at=when if status == PublicationStatus.COMPLETED else None)
        for n, (position, (key, status, when)) in enumerate(zip(positions, specs, strict=True))
    )
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("ANALYZE seams_publication")
    return [p.pk for p in publications if p.status == PublicationStatus.PENDING]


def plans_of(action: Callable[[], object]) -> list[dict[str, Any]]:
    """``EXPLAIN (ANALYZE, FORMAT JSON)`` of every statement ``action()`` sends to the module's database:
    run once in a rolled-back savepoint to capture the SQL, then explained in order, rolled back too."""
    connection = connections[ALIAS]
    with transaction.atomic(using=ALIAS), CaptureQueriesContext(connection) as captured:
        action()
        transaction.set_rollback(True, using=ALIAS)
    statements = [q["sql"] for q in captured.captured_queries if re.match(r"\s*(SELECT|UPDATE|DELETE)", q["sql"])]
    assert statements, "captured no query"
    plans = []
    with transaction.atomic(using=ALIAS), connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            plan = cursor.fetchone()[0]
            plans.append(json.loads(plan)[0] if isinstance(plan, str) else plan[0])
        transaction.set_rollback(True, using=ALIAS)
    return plans


def generic_plans_of(action: Callable[[], object]) -> list[dict[str, Any]]:
    """The plans PostgreSQL keeps for the prepared statements ``action()`` runs (the outbox's own SQL,
    ``outbox/prepared.py``): each run once in a rolled-back savepoint, then ``EXPLAIN ANALYZE EXECUTE``d
    with its values under ``plan_cache_mode = force_generic_plan`` (a plan for any values), rolled back."""
    connection = connections[ALIAS]
    ran: list[tuple[str, Any]] = []

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        ran.append((sql, params))
        return execute(sql, params, many, context)

    with transaction.atomic(using=ALIAS), connection.execute_wrapper(record):
        action()
        transaction.set_rollback(True, using=ALIAS)
    plans = []
    with transaction.atomic(using=ALIAS), connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        for sql, params in ran:
            pieces = sql.split("%s")  # as psycopg numbers them: $1, $2, ...
            numbered = pieces[0] + "".join(f"${n}{piece}" for n, piece in enumerate(pieces[1:], start=1))
            cursor.execute("SELECT name FROM pg_prepared_statements WHERE statement = %s", [numbered])
            row = cursor.fetchone()
            if row is None:
                continue  # not one of the outbox's prepared statements
            values = ", ".join(connection.ops.compose_sql("%s", [value]) for value in params)
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE {row[0]}({values})")
            plan = cursor.fetchone()[0]
            plans.append(json.loads(plan)[0] if isinstance(plan, str) else plan[0])
        transaction.set_rollback(True, using=ALIAS)
    assert plans, "no prepared statement ran"
    return plans


def scans(plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every scan node of the plans (sub-plans included)."""
    found, todo = [], [p["Plan"] for p in plans]
    while todo:
        node = todo.pop()
        if "Scan" in node["Node Type"]:
            found.append(node)
        todo.extend(node.get("Plans", []))
    return found


def assert_reads_open_rows_only(plans: list[dict[str, Any]]) -> set[str]:
    """No scan of the publication table reads the completed rows: each node's rows, plus those it filtered
    out, stay within the open backlog (with room for the dead versions of open rows our own rolled-back
    run left in the indexes), far below the completed rows. Returns the names of the indexes used."""
    for node in scans(plans):
        if node.get("Relation Name", "seams_publication") != "seams_publication":
            continue
        assert node["Node Type"] != "Seq Scan", json.dumps(plans, indent=1)
        touched = sum(node.get(k, 0) for k in ("Actual Rows", "Rows Removed by Filter", "Rows Removed by Index Recheck"))
        assert touched * node["Actual Loops"] <= 5 * PENDING < COMPLETED, (
            f"{node['Node Type']} on {node.get('Index Name')} read {touched} rows: completed rows are scanned",
            json.dumps(plans, indent=1),
        )
    return {node["Index Name"] for node in scans(plans) if "Index Name" in node}


def test_the_open_publication_indexes_are_partial(backlog: list[int]) -> None:
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'seams_publication'"
        )
        indexes = dict(cursor.fetchall())
    for name in ("seams_pub_due", "seams_pub_key_open"):
        assert name in indexes, f"{name} is missing: {sorted(indexes)}"
        assert "WHERE" in indexes[name] and "completed" not in indexes[name], indexes[name]
    assert "seams_pub_status" not in indexes, "an index over every row's status is back: each publish writes it"
    assert not any("event_id" in sql for sql in indexes.values()), (
        "an index on the event id is back (seams_publication_once until 0006): each publish writes it, nothing reads it"
    )
    condition = indexes["seams_pub_finished"].split(" WHERE ", 1)[1]
    assert "'completed'" in condition and "'dead'" in condition, condition
    assert not any(f"'{s}'" in condition for s in ("pending", "processing", "failed")), condition


@pytest.mark.django_db(databases="__all__")  # purge and resubmit go over every module's outbox
def test_purging_old_completed_rows_reads_the_finished_index(backlog: list[int]) -> None:
    """The completed rows older than the cutoff are found through seams_pub_finished, not a table scan
    (here none is old enough: a purge that deletes most rows may rightly scan)."""
    purged: list[int] = []
    plans = plans_of(lambda: purged.append(operations.purge_completed(datetime.timedelta(days=60))))
    assert purged == [0]
    publication_scans = [n for n in scans(plans) if n.get("Relation Name") == "seams_publication"]
    assert publication_scans and all(n.get("Index Name") == "seams_pub_finished" for n in publication_scans), json.dumps(plans, indent=1)


@pytest.mark.django_db(databases="__all__")  # purge and resubmit go over every module's outbox
def test_dead_letters_are_read_through_the_finished_index(backlog: list[int]) -> None:
    Publication.objects.using(ALIAS).filter(pk__in=backlog[:3]).update(status=PublicationStatus.DEAD)
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("ANALYZE seams_publication")
    listed: list[int] = []
    plans = plans_of(lambda: listed.append(len(operations.list_publications(status=PublicationStatus.DEAD, module=ALIAS))))
    # resubmit's first statement finds the dead rows (the next put them back and dispatch them)
    plans += plans_of(lambda: listed.append(operations.resubmit(module="orders", dead_only=True)))[:1]
    assert listed == [3, 3]
    reads = [n for n in scans(plans) if n.get("Relation Name") == "seams_publication" and n.get("Index Name") != "seams_publication_pkey"]
    assert reads and all(n.get("Index Name") == "seams_pub_finished" for n in reads), json.dumps(plans, indent=1)


def test_the_relay_scan_reads_open_rows_through_a_partial_index(backlog: list[int]) -> None:
    due: list[int] = []
    plans = plans_of(lambda: due.extend(due_publications(ALIAS, 500)))
    assert sorted(due) == sorted(backlog)  # the completed rows are not due, the pending ones are
    used = assert_reads_open_rows_only(plans)
    # seams_pub_due by design; the planner may also take seams_pub_key_open as "the open rows".
    assert used & {"seams_pub_due", "seams_pub_key_open"}, used


def test_claiming_checks_the_key_order_on_the_partial_key_index(backlog: list[int]) -> None:
    claimed: list[bool] = []
    plans = plans_of(lambda: claimed.append(claim(ALIAS, backlog[0], worker="test")))
    assert claimed == [True]  # completed events of the same key do not hold it back
    used = assert_reads_open_rows_only(plans)
    assert {"seams_publication_pkey", "seams_pub_key_open"} <= used, used


def test_a_prepared_claim_keeps_a_plan_for_any_values_that_reads_open_rows_only(backlog: list[int]) -> None:
    claimed: list[bool] = []
    plans = generic_plans_of(lambda: claimed.append(claim(ALIAS, backlog[0], worker="test")))
    assert claimed == [True]
    assert {"seams_publication_pkey", "seams_pub_key_open"} <= assert_reads_open_rows_only(plans)


def held_of(written: list[dict[str, tuple[int, bool]]]) -> list[dict[str, bool]]:
    """``publish_rows``' answers (subscriber -> (publication id, claimed)) without the ids, each checked
    to be a row's id (a positive integer, distinct within its publish)."""
    for rows in written:
        ids = [pk for pk, _ in rows.values()]
        assert all(isinstance(pk, int) and pk > 0 for pk in ids) and len(set(ids)) == len(ids), rows
    return [{name: claimed for name, (_, claimed) in rows.items()} for rows in written]


def test_a_prepared_publish_checks_its_key_on_the_partial_key_index_for_any_values(backlog: list[int]) -> None:
    now = timezone.now()
    event = (uuid.uuid4(), "orders.OrderPlaced", 1, "0", {"order_id": 0}, {}, "orders", now)
    written: list[dict[str, tuple[int, bool]]] = []
    plans = generic_plans_of(lambda: written.append(publish_rows(
        ALIAS, event, subscribers=[(HANDLER, "eventprobe")], now=now,
        claimed_by="test", lease_until=now + datetime.timedelta(seconds=60))[1]))  # fmt: skip
    assert held_of(written) == [{HANDLER: False}]  # key "0" has a pending publication: held back
    assert "seams_pub_key_open" in assert_reads_open_rows_only(plans)


@pytest.mark.parametrize("subscribers", [1, 2])
def test_a_prepared_publish_checks_each_rows_key_once(backlog: list[int], subscribers: int) -> None:
    """The held check (is an earlier publication of this key still open for this subscriber?) runs
    once per row written: the claimed row's four columns it decides read one answer. Before, the
    planner pulled the ``SELECT ... EXISTS (...) AS held`` subquery up into the ``INSERT``'s target
    list, and each ``CASE WHEN s.held`` ran its own copy of the ``EXISTS``: four probes of
    ``seams_pub_key_open`` per row instead of one. (A probe that finds nothing is not counted as a
    loop of its own by PostgreSQL's instrumentation, hence at most one loop per row.)"""
    now = timezone.now()
    event = (uuid.uuid4(), "orders.OrderPlaced", 1, "no-such-key", {"order_id": 0}, {}, "orders", now)
    handlers = [(f"{HANDLER}{n or ''}", "eventprobe") for n in range(subscribers)]
    written: list[dict[str, tuple[int, bool]]] = []
    plans = generic_plans_of(lambda: written.append(publish_rows(
        ALIAS, event, subscribers=handlers, now=now,
        claimed_by="test", lease_until=now + datetime.timedelta(seconds=60))[1]))  # fmt: skip
    assert held_of(written) == [{name: True for name, _ in handlers}]  # nothing of that key open: claimed
    probes = [node for node in scans(plans) if node.get("Index Name") == "seams_pub_key_open"]
    assert len(probes) == 1, json.dumps(plans, indent=1)  # one copy of the check in the plan
    assert probes[0]["Actual Loops"] <= subscribers, json.dumps(plans, indent=1)


def test_the_lease_expiry_scan_reads_open_rows_only(backlog: list[int]) -> None:
    expired = timezone.now() - datetime.timedelta(minutes=1)
    Publication.objects.using(ALIAS).filter(pk__in=backlog[:2]).update(status=PublicationStatus.PROCESSING, lease_until=expired)
    released: list[int] = []
    plans = plans_of(lambda: released.append(release_expired_leases(ALIAS)))
    assert released == [2]
    assert_reads_open_rows_only(plans)


@pytest.fixture(scope="module", autouse=True)
def _close_connections() -> Iterator[None]:
    """Close every alias's connection after these tests: when only non-transactional tests ran, the
    session's teardown could not drop the shared PostgreSQL test database while they are open."""
    yield
    connections.close_all()
