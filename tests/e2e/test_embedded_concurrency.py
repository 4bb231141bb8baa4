"""The embedded default (one SQLite file per module, events delivered in-process) under concurrent
load: several gunicorn worker processes, each with several threads, placing orders through the
whole flow at once. Writers must wait for each other (WAL, a busy timeout, ``BEGIN IMMEDIATE``)
instead of failing with "database is locked", and every order must be decided by the inline
delivery alone: no relay runs here."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.processes import gunicorn, manage, project_env
from tests.support.tokens import customer, staff

pytestmark = pytest.mark.e2e

ORDERS = 160
CLIENTS = 8
#: Three processes with four threads each: concurrency inside and across processes.
GUNICORN = ("--workers", "3", "--threads", "4", "--worker-class", "gthread")


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute(sql).fetchall()


def test_concurrent_orders_on_sqlite_never_meet_a_locked_database(tmp_path: Path) -> None:
    var = tmp_path / "var"
    # Always the embedded default, whatever DATABASE_URL the suite runs with (project_env drops it).
    env = project_env({"SEAMS_VAR_DIR": str(var), "DEBUG": "false",
                       "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"})
    manage(["migrate_modules"], env)
    manage(["seed_shop"], env)
    log = tmp_path / "gunicorn.log"

    def place(n: int) -> tuple[int, str]:
        # Every order wants the same two SKUs: the flow contends on the same stock rows too.
        lines = [{"sku": "CB-505", "quantity": 1}, {"sku": "KB-101", "quantity": 1}]
        with httpx.Client(base_url=base, timeout=120) as http:
            r = http.post("/api/orders/", json={"lines": lines}, headers=customer(f"load{n}@example.com"))
        assert r.status_code == 201, r.text
        return int(r.json()["id"]), r.json()["status"]

    with gunicorn(env, log=log, options=GUNICORN) as base:
        assert httpx.put(f"{base}/api/inventory/stock/CB-505", json={"quantity": 100_000}, headers=staff(), timeout=30).status_code == 200
        assert httpx.put(f"{base}/api/inventory/stock/KB-101", json={"quantity": 100_000}, headers=staff(), timeout=30).status_code == 200
        with ThreadPoolExecutor(CLIENTS) as pool:
            placed = list(pool.map(place, range(ORDERS)))

    output = log.read_text(errors="replace")
    assert "database is locked" not in output, output[-4000:]
    assert len({order_id for order_id, _ in placed}) == ORDERS
    # Decided inline, within the request: the response already shows the outcome.
    assert {status for _, status in placed} == {"confirmed"}, placed
    assert rows(var / "orders.sqlite3", "SELECT status, count(*) FROM orders_order GROUP BY status") == [("confirmed", ORDERS)]
    assert rows(var / "notifications.sqlite3", "SELECT count(*) FROM notifications_sentemail") == [(ORDERS,)]
    for module in ("orders", "inventory"):
        statuses = rows(var / f"{module}.sqlite3", "SELECT status, count(*) FROM seams_publication GROUP BY status")
        assert [status for status, _ in statuses] == ["completed"], (module, statuses)
