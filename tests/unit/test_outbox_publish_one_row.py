"""Publishing an event with at most one subscriber: the same rows on every database, and on SQLite
one ``INSERT ... VALUES`` row (``statements._publish_one_sqlite``) rather than the ``INSERT ...
SELECT`` PostgreSQL and several subscribers use, which SQLite first copies into a temporary
b-tree because its held check reads the table it inserts into (``bench/sqlite_publish.py``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections, transaction
from django.utils import timezone

from contracts.kernel.models import NO_SUBSCRIBER, Publication, PublicationStatus
from contracts.kernel.outbox.statements import complete_publications, publish_rows

ALIAS = "orders"
HANDLER = ("tests.one_row.handler", "notifications")

pytestmark = pytest.mark.django_db(databases=[ALIAS])


def publish(key: str | None, *, subscribers: list[tuple[str, str]] | None = None, claimed_by: str = "w1") -> tuple[int, dict[str, tuple[int, bool]]]:
    now = timezone.now()
    values = (uuid.uuid4(), "tests.OneRow", 1, key, {"n": 1, "text": "é"}, {"traceparent": "00-x"}, ALIAS, now)
    return publish_rows(
        ALIAS, values, subscribers=[HANDLER] if subscribers is None else subscribers, now=now,
        claimed_by=claimed_by, lease_until=now + timedelta(seconds=60) if claimed_by else None,
    )  # fmt: skip


def row(pk: int) -> Publication:
    return Publication.objects.using(ALIAS).get(pk=pk)


def test_one_subscriber_is_written_claimed_unless_an_earlier_event_of_its_key_is_open() -> None:
    first_position, first = publish("k1")
    second_position, second = publish("k1")  # the first is still open: held back, pending, unclaimed
    other_position, other = publish("k2")
    assert first_position < second_position < other_position
    assert first[HANDLER[0]][1] and not second[HANDLER[0]][1] and other[HANDLER[0]][1]
    claimed, held = row(first[HANDLER[0]][0]), row(second[HANDLER[0]][0])
    assert (claimed.status, claimed.attempts, claimed.claimed_by, claimed.position) == ("processing", 1, "w1", first_position)
    assert claimed.lease_until is not None and claimed.payload == {"n": 1, "text": "é"} and claimed.headers == {"traceparent": "00-x"}
    assert (held.status, held.attempts, held.claimed_by, held.lease_until, held.position) == ("pending", 0, "", None, second_position)
    complete_publications(ALIAS, [first[HANDLER[0]][0], second[HANDLER[0]][0]], timezone.now())
    _, third = publish("k1")  # nothing of its key open any more
    assert third[HANDLER[0]][1] and row(third[HANDLER[0]][0]).status == PublicationStatus.PROCESSING


def test_no_key_never_holds_back_and_unclaimed_rows_are_pending() -> None:
    _, first = publish(None)
    _, second = publish(None)
    assert first[HANDLER[0]][1] and second[HANDLER[0]][1]
    _, pending = publish("k3", claimed_by="")
    p = row(pending[HANDLER[0]][0])
    assert (p.status, p.attempts, p.claimed_by, p.lease_until) == ("pending", 0, "", None)


def test_an_event_nobody_subscribes_to_is_one_completed_row() -> None:
    position, written = publish("k4", subscribers=[])
    (recorded,) = Publication.objects.using(ALIAS).filter(position=position)
    assert written == {NO_SUBSCRIBER: (recorded.pk, False)}
    assert (recorded.subscriber, recorded.status, recorded.completed_at is not None) == (NO_SUBSCRIBER, "completed", True)


def statements_of(action: Callable[[], object]) -> list[tuple[str, Any]]:
    ran: list[tuple[str, Any]] = []

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        ran.append((sql, params))
        return execute(sql, params, many, context)

    with transaction.atomic(using=ALIAS), connections[ALIAS].execute_wrapper(record):
        action()
        transaction.set_rollback(True, using=ALIAS)
    return [(sql, params) for sql, params in ran if re.match(r"INSERT (OR IGNORE )?INTO seams_publication", sql)]


def test_sqlite_writes_one_subscriber_as_a_values_row_its_held_check_through_the_open_key_index() -> None:
    connection = connections[ALIAS]
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's statement; PostgreSQL keeps the INSERT ... SELECT (test_outbox_indexes.py checks its plan)")
    ((sql, params),) = statements_of(lambda: publish("k5"))
    assert " VALUES (" in sql and " UNION ALL " not in sql, sql
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = [r[3] for r in cursor.fetchall()]
    assert not any(re.match(r"(CO-ROUTINE|SCAN v\b|MATERIALIZE)", line) for line in plan), plan
    reads = [line for line in plan if re.search(r"\bo\b", line)]
    assert reads and all("USING INDEX seams_pub_key_open" in line for line in reads), plan
    ((several, _),) = statements_of(lambda: publish("k5", subscribers=[HANDLER, ("tests.one_row.other", "catalog")]))
    assert " UNION ALL " in several  # several subscribers: the INSERT ... SELECT, one statement still


def test_sqlite_writes_a_claimed_row_in_one_statement_a_held_one_in_two() -> None:
    """The claimed row is ``INSERT OR IGNORE`` with one held check and no ``RETURNING`` (its id is
    the cursor's ``lastrowid``, its position that id); a row held back behind an open publication
    of its key is skipped by it and written pending by the statement that decides every column."""
    if connections[ALIAS].vendor != "sqlite":
        pytest.skip("SQLite's statements")
    written: list[tuple[int, dict[str, tuple[int, bool]]]] = []

    def both() -> None:
        written.append(publish("k6"))
        written.append(publish("k6"))

    ran = statements_of(both)
    claimed, held = written
    assert [sql.split(" (", 1)[0] for sql, _ in ran] == [
        "INSERT OR IGNORE INTO seams_publication", "INSERT OR IGNORE INTO seams_publication", "INSERT INTO seams_publication",
    ]  # fmt: skip
    assert " RETURNING " not in ran[0][0] and ran[0][0].count("EXISTS") == 1
    assert claimed[1][HANDLER[0]][1] is True and held[1][HANDLER[0]][1] is False
    assert claimed[0] == claimed[1][HANDLER[0]][0] and held[0] > claimed[0]  # position: the id of a one-row event


def test_sqlite_a_claimed_row_a_constraint_refuses_is_refused_as_before() -> None:
    """``OR IGNORE`` would skip a row its CHECK constraints refuse (the payload must be JSON): the
    statement after it writes the same row and raises, and nothing is written."""
    from django.db import IntegrityError

    from contracts.kernel.outbox.values import JsonText

    if connections[ALIAS].vendor != "sqlite":
        pytest.skip("SQLite's statements")
    now = timezone.now()
    values = (uuid.uuid4(), "tests.OneRow", 1, "k7", JsonText("{not json"), {}, ALIAS, now)
    before = Publication.objects.using(ALIAS).count()
    with pytest.raises(IntegrityError), transaction.atomic(using=ALIAS):
        publish_rows(ALIAS, values, subscribers=[HANDLER], now=now, claimed_by="w1", lease_until=now + timedelta(seconds=60))
    assert Publication.objects.using(ALIAS).count() == before
