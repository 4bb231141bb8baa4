"""On SQLite the outbox's own SQL is bound by name (``contracts.kernel.outbox.by_name``): the same
statements and values, still counted and logged by Django, without Django's per-call regular
expression over each statement's markers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connections
from django.db.backends.sqlite3.base import SQLiteCursorWrapper
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contracts.kernel.outbox import prepared
from contracts.kernel.outbox.by_name import named
from contracts.kernel.outbox.statements import insert_inbox

ALIAS = "orders"

pytestmark = pytest.mark.django_db(databases=[ALIAS])


@pytest.fixture(autouse=True)
def _sqlite() -> None:
    if connections[ALIAS].vendor != "sqlite":
        pytest.skip("binding by name is the SQLite path; PostgreSQL prepares the statements (prepared.py)")


def test_markers_are_named_in_order_and_a_literal_percent_stays() -> None:
    assert named("SELECT %s, '%%s', '100%%' || %s WHERE x = %s") == (
        "SELECT %(p0)s, '%%s', '100%%' || %(p1)s WHERE x = %(p2)s",
        ("p0", "p1", "p2"),
    )
    assert named("SELECT 1") == ("SELECT 1", ())


def test_a_statement_answers_as_bound_by_position() -> None:
    sql = "SELECT %s, '%%s', %s || '%%', %s IS NULL"
    with prepared.cursor(ALIAS) as cursor:
        cursor.execute(sql, [7, "a", None])
        by_name = cursor.fetchone()
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(sql, [7, "a", None])
        assert by_name == cursor.fetchone() == (7, "%s", "a%", 1)


def test_the_sqlite_cursor_is_given_a_mapping_and_every_statement_is_still_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of it: Django's ``convert_query`` gets the parameters' names, so it formats the
    markers with ``%`` instead of running its regular expression; ``execute_wrappers`` and the
    queries log see the statement as before, with its values."""
    names: list[object] = []
    convert = SQLiteCursorWrapper.convert_query

    def recording(self: SQLiteCursorWrapper, query: str, *, param_names: list[str] | None = None) -> str:
        names.append(param_names)
        return convert(self, query, param_names=param_names)

    monkeypatch.setattr(SQLiteCursorWrapper, "convert_query", recording)
    seen: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    connection = connections[ALIAS]
    event_id = uuid.uuid4()
    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(wrapper):
        insert_inbox(ALIAS, event_id, "tests.by_name", timezone.now())
    assert names == [["p0", "p1", "p2", "p3"]]  # the key (migration 0007), event id, subscriber, handled at
    assert len(seen) == len(captured.captured_queries) == 1
    logged = captured.captured_queries[0]["sql"]
    assert logged.startswith("INSERT INTO seams_inbox") and f"'{event_id.hex}'" in logged and "'tests.by_name'" in logged
    assert "%(" not in logged and "%s" not in logged
