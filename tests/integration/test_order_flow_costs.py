"""What one placed order costs the databases, pinned: statements and durable commits per order.

``bench/order_costs.py`` places orders in a process of its own with the project's real settings
(every shop module, the outbox, none of the test-only subscribers this suite installs) on throwaway
databases — SQLite, or a new PostgreSQL database when ``DATABASE_URL`` is set, as in CI — and counts
every statement Django sends for one order of two lines until it is confirmed and emailed, the
Celery worker's included (with ``--dispatch celery`` that process drains an in-memory broker itself).

The counts are deterministic, so they are asserted exactly where this code owns them (the shop's
own statements) and as ceilings for the whole order (the outbox machinery is improved elsewhere;
an improvement must not break this test, a regression must). Timings are measured in ``bench/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.support.processes import ROOT

#: The whole order (issue 7's target: at most 30 statements co-located, inline), by database and
#: dispatch. Each event is one INSERT (its publications, each holding it); on PostgreSQL so are a
#: handler's inbox row and the completion it writes; on SQLite the completion marks of handlers on other files
#: are written together at the end (one UPDATE per database: ``outbox/completions.py``).
#: With Celery dispatch the workers only read the publications their messages carry claimed (no claim
#: UPDATE, no commit for it): one statement and one commit fewer per task than a claim; on SQLite a
#: worker's completion marks wait and are written together too (one UPDATE per database). On
#: PostgreSQL a worker's handler transaction reads its publication itself (the completion's
#: ``UPDATE ... RETURNING``, ``outbox/colocated.py``): no read before it, one statement fewer per task.
MAX_QUERIES = {("sqlite", "inline"): 26, ("sqlite", "celery"): 29, ("postgresql", "inline"): 24, ("postgresql", "celery"): 24}
#: Durable commits by database and dispatch: on PostgreSQL the module schemas share one database, so
#: the outbox completes a publication inside the handler's own transaction (one commit fewer each).
MAX_COMMITS = {("sqlite", "inline"): 6, ("sqlite", "celery"): 6, ("postgresql", "inline"): 4, ("postgresql", "celery"): 4}
#: The shop's own statements (modules' tables, no transaction control), whatever the dispatch:
#: catalog 1 (prices), orders 2 (order + its lines) + 2 (lock + confirm) + 1 (status read back),
#: inventory 3 (lock stock, one bulk update, one bulk insert), notifications 1.
SHOP_QUERIES = 10


def order_costs(dispatch: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.order_costs", "--dispatch", dispatch, "--orders", "2", "--json"]
    if os.environ.get("DATABASE_URL"):
        command += ["--database-url", os.environ["DATABASE_URL"]]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("dispatch", ["inline", "celery"])
def test_one_order_costs_at_most_its_budget_of_statements_and_commits(dispatch: str) -> None:
    costs = order_costs(dispatch)

    assert costs["deterministic"], costs["statements"]
    assert costs["dispatch"] == dispatch
    assert costs["tasks"] == (3 if dispatch == "celery" else 0)  # OrderPlaced, StockReserved, OrderConfirmed
    assert costs["shop_queries"] == SHOP_QUERIES, costs["statements"]
    assert costs["queries"] <= MAX_QUERIES[(costs["database"], dispatch)], costs["statements"]
    assert costs["commits"] <= MAX_COMMITS[(costs["database"], dispatch)], costs["statements"]
