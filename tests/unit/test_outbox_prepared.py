"""The outbox's own SQL runs prepared on PostgreSQL (``contracts.kernel.outbox.prepared``), and stays
what it was everywhere else: the same rows, every statement counted and logged by Django.

The hot statements are called directly here, on one alias, with the parameter shapes server-side
binding has to type on its own: NULL keys, several subscribers (a ``UNION ALL`` of untyped
``SELECT %s``), claimed and held-back rows (``CASE`` branches), JSON, UUIDs and timestamps.
``pg_prepared_statements`` shows which ran prepared on the connection, and how often.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import NotSupportedError, ProgrammingError, connections, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contracts.kernel.models import Publication, PublicationStatus
from contracts.kernel.outbox import prepared
from contracts.kernel.outbox.claiming import claim_read, read_claimed
from contracts.kernel.outbox.statements import complete_publications, complete_unhandled, publish_rows

ALIAS = "orders"
SUBSCRIBERS = [("tests.prepared.one", "notifications"), ("tests.prepared.two", "catalog")]

pytestmark = pytest.mark.django_db(databases=[ALIAS])


def postgresql() -> bool:
    return connections[ALIAS].vendor == "postgresql"


@pytest.fixture
def pg() -> None:
    if not postgresql():
        pytest.skip("server-side prepared statements are PostgreSQL's; run with DATABASE_URL=postgres://...")


def runs(head: str) -> int:
    """How many times this connection ran prepared statements whose SQL starts with ``head``."""
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(generic_plans + custom_plans), 0) FROM pg_prepared_statements WHERE starts_with(statement, %s)",
            [head],
        )
        return int(cursor.fetchone()[0])


def publish(key: str | None, claimed_by: str = "") -> tuple[uuid.UUID, int, dict[str, tuple[int, bool]]]:
    now = timezone.now()
    event_id = uuid.uuid4()
    values = (event_id, "tests.Prepared", 1, key, {"n": 1, "text": "é"}, {"traceparent": "00-x"}, ALIAS, now)
    position, written = publish_rows(
        ALIAS, values, subscribers=SUBSCRIBERS, now=now,
        claimed_by=claimed_by, lease_until=now + timedelta(seconds=60) if claimed_by else None,
    )  # fmt: skip
    return event_id, position, written


def run(sql: str, params: list[Any] | None = None) -> Any:
    with prepared.cursor(ALIAS) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def test_the_hot_statements_write_and_read_the_same_rows_and_run_prepared_on_postgresql() -> None:
    for _ in range(3):  # unclaimed, NULL key: claimed one by one, completed together
        event_id, position, written = publish(None)
        assert set(written) == {name for name, _ in SUBSCRIBERS} and not any(claimed for _, claimed in written.values())
        for pk, _ in written.values():
            taken = claim_read(ALIAS, pk, "w-1")
            assert taken is not None and taken.event_id == event_id and taken.payload == {"n": 1, "text": "é"}
            assert (taken.position, taken.status, taken.attempts, taken.key) == (position, PublicationStatus.PROCESSING, 1, None)
        assert complete_publications(ALIAS, [pk for pk, _ in written.values()], timezone.now(), "w-1") == []

    first, _, claimed = publish("k", claimed_by="w-2")  # written claimed...
    _, _, held = publish("k", claimed_by="w-2")  # ...and the next event of the key held back
    assert all(is_claimed for _, is_claimed in claimed.values()) and not any(is_claimed for _, is_claimed in held.values())
    pk = claimed[SUBSCRIBERS[0][0]][0]
    ids = [pk, held[SUBSCRIBERS[0][0]][0]]  # only the first is held by w-2
    assert [p.pk for p in read_claimed(ALIAS, ids, "w-2", timedelta(seconds=5))] == [pk]
    assert complete_unhandled(ALIAS, first, SUBSCRIBERS[0][0], timezone.now(), "seams_publication", pk, "w-2") is False
    assert Publication.objects.using(ALIAS).get(pk=pk).status == PublicationStatus.COMPLETED
    assert Publication.objects.using(ALIAS).filter(key="k").values("event_id").distinct().count() == 2

    if postgresql():
        assert runs("WITH n AS (SELECT nextval") == 5
        assert runs("UPDATE seams_publication SET status = 'processing'") == 6  # claim_read
        completed = "UPDATE seams_publication SET status = 'completed', completed_at = $1, lease_until = NULL, last_error = ''"
        assert runs(f"{completed} WHERE id IN") == 3  # complete_publications
        assert runs("SELECT seams_publication.id") == 1  # read_claimed
        assert runs(f"{completed} WHERE id = $2") == 1  # complete_unhandled


def test_prepared_statements_are_counted_and_logged_with_their_values() -> None:
    seen: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    connection = connections[ALIAS]
    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(wrapper):
        event_id, _, _ = publish("key-logged")
    assert len(captured.captured_queries) == len(seen) == 1  # one INSERT publishes, on every database
    logged = captured.captured_queries[-1]["sql"]
    assert "'key-logged'" in logged and "$1" not in logged and "%s" not in logged
    if postgresql():
        assert event_id.hex in captured.captured_queries[0]["sql"]
        assert connection.connection.prepare_threshold is None  # the ORM's queries are never prepared


def test_sqlite_gets_the_connections_own_cursor() -> None:
    """On SQLite: Django's own wrapper, around Django's SQLite cursor whose markers are converted
    once per statement (``sqlite_markers``)."""
    if postgresql():
        with prepared.cursor(ALIAS) as cursor:
            assert type(cursor.cursor).__name__ == "_PreparingCursor"
        return
    with prepared.cursor(ALIAS) as cursor, connections[ALIAS].cursor() as plain:
        assert type(cursor) is type(plain)
        assert isinstance(cursor.cursor, type(plain.cursor)) and type(cursor.cursor).__name__ == "_Converted"


@pytest.mark.usefixtures("pg")
def test_prepared_statements_false_runs_them_client_bound() -> None:
    publish("on")
    before = runs("WITH n AS (SELECT nextval")
    assert before == 1
    with override_settings(SEAMS_EVENTS={"PREPARED_STATEMENTS": False}):
        publish("off")
        with prepared.cursor(ALIAS) as cursor:
            assert type(cursor.cursor) is type(connections[ALIAS].cursor().cursor)
    assert runs("WITH n AS (SELECT nextval") == before
    assert Publication.objects.using(ALIAS).filter(key__in=["on", "off"]).values("event_id").distinct().count() == 2


@pytest.mark.usefixtures("pg")
def test_a_statement_the_server_no_longer_has_fails_once_then_is_prepared_again() -> None:
    assert run("SELECT %s::int + 1", [1]) == 2
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what a pooler handing out another server connection amounts to
    with pytest.raises(ProgrammingError, match="does not exist"), transaction.atomic(using=ALIAS):
        run("SELECT %s::int + 1", [1])
    assert run("SELECT %s::int + 1", [2]) == 3
    assert runs("SELECT $1::int + 1") == 1


@pytest.mark.usefixtures("pg")
def test_a_statement_whose_result_type_a_migration_changed_fails_once_then_is_prepared_again() -> None:
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE prepared_probe (a integer)")
        cursor.execute("INSERT INTO prepared_probe VALUES (7)")
    assert run("SELECT a FROM prepared_probe") == 7
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("ALTER TABLE prepared_probe ALTER a TYPE text")
    with pytest.raises(NotSupportedError, match="cached plan must not change result type"), transaction.atomic(using=ALIAS):
        run("SELECT a FROM prepared_probe")
    assert run("SELECT a FROM prepared_probe") == "7"


@pytest.mark.usefixtures("pg")
def test_a_statement_naming_many_rows_runs_client_bound() -> None:
    """Each count of an ``IN (...)`` list would be a prepared statement of its own: batches are not."""
    ids = [pk for _ in range(2) for pk, _ in publish(None)[2].values()]  # four publications
    many = prepared.MAX_LISTED + 1
    assert complete_publications(ALIAS, ids[:1], timezone.now()) == []
    assert complete_publications(ALIAS, ids[1 : 1 + many], timezone.now()) == []
    assert runs("UPDATE seams_publication SET status = 'completed'") == 1  # the one-id statement only
    assert Publication.objects.using(ALIAS).filter(pk__in=ids[: 1 + many], status=PublicationStatus.COMPLETED).count() == 1 + many


@pytest.mark.usefixtures("pg")
def test_one_raw_cursor_is_kept_per_connection_and_a_second_one_open_at_once_is_its_own() -> None:
    """``prepared._kept``: the raw cursor of one call is the next call's, once closed; one asked for
    while it is still open is another (closed for real), and so after a change of time zone and on
    a connection shared between threads (a new psycopg connection has none kept: the cache is keyed
    by it)."""
    connection = connections[ALIAS]
    with prepared.cursor(ALIAS) as first:
        first.execute("SELECT %s::int", [1])
        with prepared.cursor(ALIAS) as second:  # the first still open
            second.execute("SELECT %s::int", [2])
            assert second.cursor is not first.cursor and second.fetchone() == (2,)
        assert second.cursor.closed and first.fetchone() == (1,)  # its rows were not the second's
    assert not first.cursor.closed
    with prepared.cursor(ALIAS) as again:
        assert again.cursor is first.cursor
        assert run("SELECT %s::int + 1", [1]) == 2  # (a nested one meanwhile)
        again.execute("SELECT %s::text", ["x"])
        assert again.fetchone() == ("x",)
    connection.inc_thread_sharing()
    try:
        with prepared.cursor(ALIAS) as shared:
            assert shared.cursor is not first.cursor
        assert shared.cursor.closed
    finally:
        connection.dec_thread_sharing()
    saved = connection.settings_dict["TIME_ZONE"]
    connection.settings_dict["TIME_ZONE"] = "Asia/Kolkata"
    connection.__dict__.pop("timezone", None)
    try:
        with prepared.cursor(ALIAS) as zoned:
            zoned.execute("SELECT %s::timestamptz", ["2026-12-01 00:00:00+00"])
            assert zoned.cursor is not first.cursor and str(zoned.fetchone()[0].tzinfo) == "Asia/Kolkata"
    finally:
        connection.settings_dict["TIME_ZONE"] = saved
        connection.__dict__.pop("timezone", None)
    with prepared.cursor(ALIAS) as utc:
        utc.execute("SELECT %s::timestamptz", ["2026-12-01 00:00:00+00"])
        assert utc.cursor is not zoned.cursor and utc.fetchone()[0].utcoffset() == timedelta(0)
