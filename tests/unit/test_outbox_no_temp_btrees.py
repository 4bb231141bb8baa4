"""On SQLite, writing and completing a publication builds no temporary b-tree for the open partial
indexes' condition (migration 0008).

SQLite evaluates a partial index's ``WHERE`` for each row a statement writes, to know whether the row
enters the index: a condition ``status IN ('pending', 'processing', 'failed')`` (a list of three or
more constants) is evaluated through a temporary b-tree of its values, built (a pager, a zeroed page)
by every statement that writes a publication, once per index and, for an ``UPDATE``, for the old
and the new row alike: two per publish, four per completion batch, about a fifth of SQLite's work
on the publication's ``INSERT`` (instructions counted with callgrind). The same condition written
as equalities joined by ``OR`` is compared in place. What is left is the statements' own:
``RETURNING``'s, an ``INSERT ... SELECT``'s copy of its rows, an ``UPDATE``'s list of the rows it
updates and its ``IN`` list of ids. ``EXPLAIN`` lists the program's ``OpenEphemeral`` instructions: deterministic counts."""

from __future__ import annotations

import pytest
from django.db import connections

from contracts.kernel.outbox import statements

ALIAS = "orders"

pytestmark = pytest.mark.django_db(databases=[ALIAS])


def temporary_btrees(sql: str, params: object) -> int:
    with connections[ALIAS].cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return sum(1 for row in cursor.fetchall() if row[1] == "OpenEphemeral")


@pytest.fixture(autouse=True)
def sqlite() -> None:
    if connections[ALIAS].vendor != "sqlite":
        pytest.skip("SQLite's programs (EXPLAIN lists VDBE instructions)")


def test_publishing_one_row_builds_one_temporary_btree_for_returning_only() -> None:
    # The statement the bench measures: one subscriber, written claimed (its parameters named).
    names = (*statements.EVENT_FIELDS, "now", "no", "subscriber", "module", "claimed_by", "lease_until")
    assert temporary_btrees(statements._values_sql(True, True), dict.fromkeys(names, "x")) == 1  # before 0008: 3
    assert temporary_btrees(statements._values_sql(True, False), dict.fromkeys(names, "x")) == 1


@pytest.mark.parametrize("subscribers", [0, 2])
def test_publishing_several_rows_or_none_builds_no_temporary_btree_for_the_conditions(subscribers: int) -> None:
    sql = statements._insert_sql("sqlite", subscribers, bool(subscribers))
    params = ["x"] * sql.count("%s")
    # RETURNING, and the copy of the selected rows SQLite makes before inserting them (an INSERT ...
    # SELECT): none for the open indexes' condition (before 0008: 4).
    assert temporary_btrees(sql.replace("%s", "?"), params) == 2


def test_completing_a_batch_builds_no_temporary_btree_for_the_conditions() -> None:
    # The rows to update, collected before updating them; the IN list of ids; RETURNING. Before 0008
    # four more: the two open indexes' condition, for the old row and the new.
    sql = statements._complete_sql(3, compare=True)
    assert temporary_btrees(sql.replace("%s", "?"), ["x", 1, 2, 3, "w"]) == 3
    one = statements._complete_claimed_sql("seams_publication")
    assert temporary_btrees(one.replace("%s", "?"), ["x", 1, "w"]) == 1
