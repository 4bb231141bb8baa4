"""On SQLite the outbox's own SQL reaches sqlite3 with its markers converted once per statement
(``contracts.kernel.outbox.sqlite_markers``): the same statements and values, still counted and
logged by Django, without Django's per-call conversion of each statement's markers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connections
from django.db.backends.sqlite3.base import SQLiteCursorWrapper
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contracts.kernel.outbox import prepared
from contracts.kernel.outbox.sqlite_markers import named, qmark
from contracts.kernel.outbox.statements import insert_inbox

ALIAS = "orders"

pytestmark = pytest.mark.django_db(databases=[ALIAS])


@pytest.fixture(autouse=True)
def _sqlite() -> None:
    if connections[ALIAS].vendor != "sqlite":
        pytest.skip("converting the markers once is the SQLite path; PostgreSQL prepares the statements (prepared.py)")


def test_markers_are_converted_as_django_converts_them_and_a_literal_percent_stays() -> None:
    assert qmark("SELECT %s, '%%s', '100%%' || %s WHERE x = %s") == "SELECT ?, '%s', '100%' || ? WHERE x = ?"
    assert named("SELECT %(a)s, '%%s', %(b)s || %(a)s") == "SELECT :a, '%s', :b || :a"
    assert qmark("SELECT 1") == named("SELECT 1") == "SELECT 1"


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("SELECT %s, '%%s', %s || '%%', %s IS NULL", [7, "a", None]),
        ("SELECT %(n)s, '%%s', %(s)s || '%%', %(z)s IS NULL, %(n)s", {"n": 7, "s": "a", "z": None}),
    ],
)
def test_a_statement_answers_as_through_djangos_own_cursor(sql: str, params: Any) -> None:
    with prepared.cursor(ALIAS) as cursor:
        cursor.execute(sql, params)
        converted_once = cursor.fetchone()
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(sql, params)
        assert converted_once == cursor.fetchone()
    assert converted_once[:4] == (7, "%s", "a%", 1)


def test_djangos_conversion_is_not_run_and_every_statement_is_still_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of it: Django's ``convert_query`` is not called for the outbox's statements,
    while ``execute_wrappers`` and the queries log see each statement as before, with its values."""
    converted: list[str] = []
    convert = SQLiteCursorWrapper.convert_query

    def recording(self: SQLiteCursorWrapper, query: str, *, param_names: list[str] | None = None) -> str:
        converted.append(query)
        return convert(self, query, param_names=param_names)

    monkeypatch.setattr(SQLiteCursorWrapper, "convert_query", recording)
    seen: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    connection = connections[ALIAS]
    event_id = uuid.uuid4()
    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(wrapper):
        insert_inbox(ALIAS, event_id, "tests.sqlite_markers", timezone.now())
    assert converted == []
    assert len(seen) == len(captured.captured_queries) == 1
    assert seen[0] == insert_inbox.sql  # Django's own "%s" form
    logged = captured.captured_queries[0]["sql"]
    assert logged.startswith("INSERT INTO seams_inbox") and f"'{event_id.hex}'" in logged and "'tests.sqlite_markers'" in logged
    assert "%s" not in logged and "?" not in logged
