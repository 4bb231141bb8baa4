"""A transaction's BEGIN and its first outbox statement go to PostgreSQL as one round trip
(``contracts.kernel.outbox.begin_psycopg``), and every way that cannot apply falls back to the cursor.

Round trips are read off the wire: libpq's protocol trace of the connection (``PQtrace``), one
``ReadyForQuery`` from the server per round trip. The statement is a real one of a scratch table of
the test's own connection (a temporary table), or the kernel's completion in a real inline delivery.
PostgreSQL only: on SQLite there is no round trip to save (the CI's PostgreSQL half runs these).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import IntegrityError, connections, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from contracts.kernel import ModuleConfig, subscribe
from contracts.kernel.models import Publication, PublicationStatus
from contracts.kernel.outbox import prepared
from contracts.kernel.registry import isolated_registry
from modules.catalog.models import Product
from modules.notifications.models import SentEmail
from tests.support import pgwire
from tests.support.pgwire import queries, round_trips
from tests.unit.probe import services
from tests.unit.probe.events import ProbeHappened

ALIAS = "orders"
TABLE = "seams_begin_probe"
UPDATE = f"UPDATE {TABLE} SET note = %s, n = n + 1 WHERE id = %s RETURNING n, note"

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def pg() -> Iterator[None]:
    if connections[ALIAS].vendor != "postgresql":
        pytest.skip("a round trip to save is PostgreSQL's; run with DATABASE_URL=postgres://...")
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {TABLE} (id int PRIMARY KEY, note text NOT NULL, n int NOT NULL)")
        cursor.execute(f"INSERT INTO {TABLE} VALUES (1, 'start', 0)")
    yield
    connections[ALIAS].close()  # the temporary table and the statements prepared on it go with the session


def wire(alias: str = ALIAS) -> Any:
    return pgwire.wire(alias)


def status(alias: str = ALIAS) -> str:
    return pgwire.status(alias)


def row(alias: str = ALIAS) -> tuple[int, str]:
    with connections[alias].cursor() as cursor:
        cursor.execute(f"SELECT n, note FROM {TABLE} WHERE id = 1")
        return cursor.fetchone()


def test_begin_and_the_first_statement_are_one_round_trip_and_commit_with_the_block() -> None:
    connection = connections[ALIAS]
    with wire() as lines:
        with transaction.atomic(using=ALIAS):
            rows = prepared.begin_and_execute(connection, UPDATE, ["first", 1])
            assert status() == "INTRANS"
    assert rows == [(1, "first")]
    # PREPARE (once per connection), BEGIN with the EXECUTE, COMMIT: no round trip for BEGIN alone.
    sent = queries(lines)
    assert sent[0].startswith(f"PREPARE seams_0 (text, bigint) AS UPDATE {TABLE}") and sent[1].startswith("BEGIN; EXECUTE seams_0(")
    assert "BEGIN" not in sent and round_trips(lines) == 3, lines
    assert row() == (1, "first")

    with wire() as lines:
        with transaction.atomic(using=ALIAS):
            assert prepared.begin_and_execute(connection, UPDATE, ["second", 1]) == [(2, "second")]
    assert queries(lines) == ["BEGIN; EXECUTE seams_0('second', 1)", "COMMIT"] and round_trips(lines) == 2, lines


def test_a_block_that_fails_later_rolls_the_statement_back() -> None:
    connection = connections[ALIAS]
    with pytest.raises(ZeroDivisionError), transaction.atomic(using=ALIAS):
        assert prepared.begin_and_execute(connection, UPDATE, ["rolled back", 1]) == [(1, "rolled back")]
        1 / 0  # noqa: B018
    assert row() == (0, "start")


def test_values_travel_as_escaped_literals() -> None:
    connection = connections[ALIAS]
    hostile = "it's \\' a \"quote\"'); DROP TABLE seams_begin_probe; -- é ✓"
    with transaction.atomic(using=ALIAS):
        assert prepared.begin_and_execute(connection, UPDATE, [hostile, 1]) == [(1, hostile)]
    assert row() == (1, hostile)
    moment = uuid.uuid4()
    with transaction.atomic(using=ALIAS):  # a UUID and None as values of their own
        rows = prepared.begin_and_execute(connection, "SELECT %s::uuid, %s::text IS NULL, %s::bool", [moment, None, True])
    assert rows == [(moment, True, True)]


def test_where_it_does_not_apply_it_answers_none_and_sends_nothing() -> None:
    connection = connections[ALIAS]
    with wire() as lines:
        assert prepared.begin_and_execute(connection, UPDATE, ["autocommit", 1]) is None  # no atomic block
        with transaction.atomic(using=ALIAS):
            assert row() == (0, "start")  # the transaction has begun
            assert prepared.begin_and_execute(connection, UPDATE, ["second", 1]) is None
        with transaction.atomic(using=ALIAS):
            assert prepared.begin_and_execute(connection, UPDATE, [object(), 1]) is None  # a value it does not write
        with connection.execute_wrapper(lambda execute, *args: execute(*args)), transaction.atomic(using=ALIAS):
            assert prepared.begin_and_execute(connection, UPDATE, ["wrapped", 1]) is None  # a wrapper sees every statement
        with override_settings(SEAMS_EVENTS={"PREPARED_STATEMENTS": False}), transaction.atomic(using=ALIAS):
            assert prepared.begin_and_execute(connection, UPDATE, ["unprepared", 1]) is None
    assert not any("EXECUTE" in query or "PREPARE" in query for query in queries(lines)), lines


def test_the_isolation_level_of_the_connection_begins_the_transaction() -> None:
    connection = connections[ALIAS]
    connection.ensure_connection()
    connection.connection.isolation_level = 3  # psycopg's IsolationLevel.REPEATABLE_READ
    try:
        with wire() as lines, transaction.atomic(using=ALIAS):
            prepared.begin_and_execute(connection, UPDATE, ["isolated", 1])
            with connection.cursor() as cursor:
                cursor.execute("SHOW transaction_isolation")
                assert cursor.fetchone()[0] == "repeatable read"
        assert [q for q in queries(lines) if q.startswith("BEGIN")][0].startswith("BEGIN ISOLATION LEVEL REPEATABLE READ; EXECUTE"), lines
    finally:
        connection.connection.isolation_level = None


def test_the_queries_log_shows_the_statement_with_its_values() -> None:
    connection = connections[ALIAS]
    with CaptureQueriesContext(connection) as captured, transaction.atomic(using=ALIAS):
        prepared.begin_and_execute(connection, UPDATE, ["logged", 1])
    assert f"UPDATE {TABLE} SET note = 'logged', n = n + 1 WHERE id = 1 RETURNING n, note" in [q["sql"] for q in captured]


def test_an_error_of_the_statement_is_raised_and_leaves_the_connection_usable() -> None:
    connection = connections[ALIAS]
    insert = f"INSERT INTO {TABLE} (id, note, n) VALUES (%s, %s, 0)"
    with pytest.raises(IntegrityError), transaction.atomic(using=ALIAS):
        prepared.begin_and_execute(connection, insert, [1, "duplicate key"])
    with transaction.atomic(using=ALIAS):
        assert prepared.begin_and_execute(connection, UPDATE, ["after", 1]) == [(1, "after")]
    assert row() == (1, "after")


def test_after_psycopg_deallocates_everything_it_prepares_again_in_one_round_trip() -> None:
    """psycopg sends ``DEALLOCATE ALL`` after a rollback when it prepared statements of its own:
    the names of this module are forgotten with it, so the next call prepares afresh and never
    hits "prepared statement does not exist"."""
    connection = connections[ALIAS]
    with transaction.atomic(using=ALIAS):
        prepared.begin_and_execute(connection, UPDATE, ["one", 1])
    with pytest.raises(ZeroDivisionError), transaction.atomic(using=ALIAS):
        with prepared.cursor(connection) as cursor:  # a statement psycopg prepares itself
            cursor.execute(f"SELECT n FROM {TABLE} WHERE id = %s", [1])
        1 / 0  # noqa: B018
    with wire() as lines, transaction.atomic(using=ALIAS):
        assert prepared.begin_and_execute(connection, UPDATE, ["two", 1]) == [(2, "two")]
    sent = queries(lines)
    assert sent[0].startswith("PREPARE seams_1 (text, bigint) AS") and sent[1].startswith("BEGIN; EXECUTE seams_1("), lines


def test_statements_dropped_behind_its_back_make_the_connection_fall_back_for_good() -> None:
    """A pooler or ``DISCARD ALL`` drops the named statement unseen: the one failed ``EXECUTE``
    ends the half-begun transaction, the caller's cursor runs the statement, and the connection
    stops trying (behind a transaction-mode pooler it would fail every time)."""
    connection = connections[ALIAS]
    with transaction.atomic(using=ALIAS):
        prepared.begin_and_execute(connection, UPDATE, ["one", 1])
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    with transaction.atomic(using=ALIAS):
        assert prepared.begin_and_execute(connection, UPDATE, ["two", 1]) is None
        assert status() == "IDLE"
        with connection.cursor() as cursor:
            cursor.execute(UPDATE, ["by the cursor", 1])
    assert row() == (2, "by the cursor")
    with transaction.atomic(using=ALIAS):
        assert prepared.begin_and_execute(connection, UPDATE, ["three", 1]) is None


@pytest.fixture
def subscribed(probe_module: ModuleConfig) -> Iterator[None]:
    with isolated_registry() as registry:

        @subscribe(ProbeHappened, module="notifications")
        def on_probe(event: ProbeHappened) -> None:
            SentEmail.objects.create(event_id=uuid.uuid4(), recipient="a@example.com", subject="s", body="b")

        registry.freeze()
        yield


def test_an_inline_delivery_starts_the_handlers_transaction_with_the_completion_in_one_round_trip(subscribed: None) -> None:
    """The handler's transaction on the subscriber's connection: BEGIN with the completion of the
    publication (which is also the inbox record), the handler's row, COMMIT: three round trips,
    where psycopg alone would have sent BEGIN as a fourth."""
    events = {"DISPATCH": "inline", "MAX_ATTEMPTS": 3, "BACKOFF_BASE": 0.0, "BACKOFF_MAX": 0.0}
    work = lambda: Product.objects.create(sku=f"P-{uuid.uuid4().hex[:8]}", name="p", price_cents=1)  # noqa: E731
    with override_settings(SEAMS_EVENT_BACKEND="contracts.kernel.outbox.OutboxEventBackend", SEAMS_EVENTS=events):
        services.happen(1, work=work)  # warm-up: the statement is prepared on this connection
        with wire("notifications") as lines:
            services.happen(2, work=work)
    begun = [query for query in queries(lines) if query.startswith("BEGIN")]
    assert len(begun) == 1 and begun[0].startswith("BEGIN; EXECUTE seams_") and round_trips(lines) == 3, lines
    assert SentEmail.objects.count() == 2
    assert set(Publication.objects.using("catalog").values_list("status", flat=True)) == {PublicationStatus.COMPLETED}


def test_a_row_comes_back_typed_as_the_cursor_loads_it() -> None:
    """The Celery worker's one-transaction path (``colocated.complete_read``) takes the whole
    publication back from its completion: the same values, of the same types (UUID, aware datetimes,
    the JSON text Django's field parses), whether BEGIN went with it or the cursor ran it."""
    from datetime import timedelta

    from django.utils import timezone

    from contracts.kernel.outbox.colocated import complete_read
    from contracts.kernel.outbox.statements import publish_rows

    def claimed() -> int:
        now = timezone.now()
        values = (uuid.uuid4(), "tests.Begin", 1, f"k-é-{uuid.uuid4().hex[:6]}", {"n": 1, "text": "é"}, {"traceparent": "00-x"}, ALIAS, now)
        _, written = publish_rows(
            ALIAS, values, subscribers=[("tests.begin.one", "notifications")], now=now,
            claimed_by="w-1", lease_until=now + timedelta(seconds=60),
        )  # fmt: skip
        return written["tests.begin.one"][0]

    first, second = claimed(), claimed()
    with wire() as lines, transaction.atomic(using=ALIAS):
        together = complete_read(ALIAS, "seams_publication", first, "w-1")
    assert [q for q in queries(lines) if q.startswith("BEGIN")][0].startswith("BEGIN; EXECUTE"), lines
    with transaction.atomic(using=ALIAS):
        row()  # begun: the cursor runs it
        alone = complete_read(ALIAS, "seams_publication", second, "w-1")
    assert together is not None and alone is not None
    assert [type(value) for value in together] == [type(value) for value in alone]
    differs = {i for i, (a, b) in enumerate(zip(together, alone, strict=True)) if a != b}
    assert len(differs) >= 2, (together, alone)  # the ids, event ids, stamps differ; the rest is equal
    assert {i for i, value in enumerate(together) if isinstance(value, str)} == {i for i, value in enumerate(alone) if isinstance(value, str)}
    with transaction.atomic(using=ALIAS):  # completed: a second completion matches nothing
        assert complete_read(ALIAS, "seams_publication", first, "w-1") is None
