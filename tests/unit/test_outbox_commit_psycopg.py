"""The publications' INSERT rides with the publisher's COMMIT on PostgreSQL (``commit_psycopg``), and
nothing about what is written, or when, changes but the round trip.

A real inline delivery of the probe module's event (publisher: alias ``catalog``; subscriber:
notifications, which inserts a row), read off the wire (libpq's protocol trace, ``tests.support.pgwire``)
and off the tables. PostgreSQL only: SQLite sends nothing (the CI's PostgreSQL half runs these).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.db import DatabaseError, connections, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from contracts.kernel import ModuleConfig, atomic, publish, subscribe
from contracts.kernel.models import Publication, PublicationStatus
from contracts.kernel.registry import isolated_registry
from modules.catalog.models import Product
from modules.notifications.models import SentEmail
from tests.support.pgwire import queries, round_trips, wire
from tests.unit.probe.events import ProbeHappened

PUBLISHER = "catalog"
OUTBOX = "contracts.kernel.outbox.OutboxEventBackend"
EVENTS = {"DISPATCH": "inline", "MAX_ATTEMPTS": 3, "BACKOFF_BASE": 0.0, "BACKOFF_MAX": 0.0}

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(autouse=True)
def pg(probe_module: ModuleConfig) -> Iterator[None]:
    if connections[PUBLISHER].vendor != "postgresql":
        pytest.skip("a round trip to save is PostgreSQL's; run with DATABASE_URL=postgres://...")
    with isolated_registry() as registry:

        @subscribe(ProbeHappened, module="notifications")
        def on_probe(event: ProbeHappened) -> None:
            SentEmail.objects.create(event_id=uuid.uuid4(), recipient=f"{event.probe_id}@example.com", subject="s", body=event.note)

        registry.freeze()
        with override_settings(SEAMS_EVENT_BACKEND=OUTBOX, SEAMS_EVENTS=EVENTS):
            yield


def product(sku: str) -> Product:
    return Product.objects.create(sku=sku, name="p", price_cents=1)


def happened(probe_id: int, note: str = "") -> None:
    publish(ProbeHappened(probe_id=probe_id, note=note))


def published() -> list[int]:
    """The probe ids of the publications written, in position order."""
    rows = Publication.objects.using(PUBLISHER).order_by("position")  # every publication here is a ProbeHappened
    return [row.payload["probe_id"] for row in rows]


def emailed() -> set[str]:
    return set(SentEmail.objects.values_list("recipient", flat=True))


def test_the_insert_goes_with_the_commit_and_the_event_is_delivered() -> None:
    with atomic(PUBLISHER):
        product("warm-up")
        happened(0)  # the first publication of the connection prepares the statement
    with wire(PUBLISHER) as lines, atomic(PUBLISHER):
        product("P-1")
        happened(1)
    sent = queries(lines)
    assert sent[-1].startswith("SAVEPOINT seams_publish; EXECUTE seams_") and sent[-1].endswith("RELEASE SAVEPOINT seams_publish; COMMIT")
    # BEGIN (psycopg's, before the product), the product, the publications with the COMMIT: hand-written's three.
    assert round_trips(lines) == 3, lines
    assert published() == [0, 1] and emailed() == {"0@example.com", "1@example.com"}
    assert set(Publication.objects.using(PUBLISHER).values_list("status", flat=True)) == {PublicationStatus.COMPLETED}


def test_a_transaction_that_only_publishes_is_one_round_trip() -> None:
    with atomic(PUBLISHER):
        happened(0)
    with wire(PUBLISHER) as lines, atomic(PUBLISHER):
        happened(1)
    assert [q.split(";")[0] for q in queries(lines)] == ["BEGIN"] and round_trips(lines) == 1, lines
    assert published() == [0, 1] and emailed() == {"0@example.com", "1@example.com"}


def test_several_publications_go_together_in_the_order_published() -> None:
    with wire(PUBLISHER) as lines, atomic(PUBLISHER):
        product("P-1")
        for probe_id in (3, 1, 2):
            happened(probe_id)
    assert queries(lines)[-1].count("EXECUTE seams_") == 3, lines
    assert published() == [3, 1, 2] and emailed() == {"1@example.com", "2@example.com", "3@example.com"}


def test_a_savepoint_rolled_back_takes_its_publications_with_it() -> None:
    with atomic(PUBLISHER):
        happened(1)
        with pytest.raises(ZeroDivisionError), transaction.atomic(using=PUBLISHER):
            product("inner")
            happened(2)
            1 / 0  # noqa: B018
        with transaction.atomic(using=PUBLISHER):  # released: its publication stays
            happened(3)
        happened(4)
    assert published() == [1, 3, 4] and emailed() == {"1@example.com", "3@example.com", "4@example.com"}
    assert not Product.objects.filter(sku="inner").exists()


def test_a_transaction_that_fails_after_publishing_writes_nothing() -> None:
    with pytest.raises(ZeroDivisionError), atomic(PUBLISHER):
        product("P-1")
        happened(1)
        1 / 0  # noqa: B018
    assert published() == [] and emailed() == set() and not Product.objects.filter(sku="P-1").exists()
    with atomic(PUBLISHER):  # the connection commits as usual afterwards
        happened(2)
    assert published() == [2]


def test_a_write_the_database_refuses_at_the_commit_rolls_the_whole_transaction_back() -> None:
    """A failure of the INSERT itself is the transaction's, as it was when it ran at ``publish``:
    the commit raises it and nothing of the transaction is written."""
    with connections[PUBLISHER].cursor() as cursor:
        cursor.execute("ALTER TABLE seams_publication ADD CONSTRAINT seams_test_refuse CHECK (payload->>'note' <> 'refused') NOT VALID")
    try:
        with pytest.raises(DatabaseError, match="seams_test_refuse"), atomic(PUBLISHER):
            product("P-1")
            happened(1, note="refused")
        assert not Product.objects.filter(sku="P-1").exists() and published() == [] and emailed() == set()
    finally:
        with connections[PUBLISHER].cursor() as cursor:
            cursor.execute("ALTER TABLE seams_publication DROP CONSTRAINT seams_test_refuse")


def test_a_statement_dropped_behind_its_back_is_rolled_back_to_the_savepoint_and_sent_alone() -> None:
    """``DEALLOCATE ALL`` outside psycopg (a pooler, a reset): the ``EXECUTE`` fails inside the
    savepoint, which is rolled back; the INSERT then runs through the cursor and the transaction
    commits as if nothing happened. The connection queues no more: each publication runs at once."""
    with atomic(PUBLISHER):
        happened(0)
    with connections[PUBLISHER].cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    with atomic(PUBLISHER):
        product("P-1")
        happened(1)
    assert published() == [0, 1] and emailed() == {"0@example.com", "1@example.com"}
    assert Product.objects.filter(sku="P-1").exists()
    with wire(PUBLISHER) as lines, atomic(PUBLISHER):
        product("P-2")
        happened(2)
    assert not any("EXECUTE" in q for q in queries(lines)) and queries(lines)[-1] == "COMMIT", lines
    assert published() == [0, 1, 2]


def test_the_queries_log_shows_the_insert_before_the_commit() -> None:
    connection = connections[PUBLISHER]
    with CaptureQueriesContext(connection) as captured, atomic(PUBLISHER):
        product("P-1")
        happened(1)
    sqls = [q["sql"] for q in captured]
    insert = next(i for i, sql in enumerate(sqls) if "INSERT INTO seams_publication" in sql)
    assert sqls[insert + 1:] == ["COMMIT"] and "ProbeHappened" in sqls[insert], sqls


def test_with_an_execute_wrapper_the_publication_is_written_at_once_for_the_wrapper_to_see() -> None:
    seen: list[str] = []

    def watch(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        seen.append(sql)
        return execute(sql, params, many, context)

    connection = connections[PUBLISHER]
    with connection.execute_wrapper(watch), atomic(PUBLISHER):
        happened(1)
        assert any("INSERT INTO seams_publication" in sql for sql in seen) and published() == [1]
    assert emailed() == {"1@example.com"}


@pytest.mark.django_db(databases="__all__")  # a test's transaction: it never commits
def test_in_a_test_transaction_the_publication_is_written_at_once() -> None:
    with atomic(PUBLISHER):
        happened(1)
        assert published() == [1]
