"""The embedded default under a mixed load, as a new user would serve it (issue 7's audit): 16
clients at once placing orders that are confirmed or cancelled (one SKU's stock is kept scarce by
staff setting it while orders reserve it), reading the catalog, the stock, their orders and their
emails; a subscriber that is slow (0.3 s inside its transaction) for some orders and fails twice
for others. Served two ways:

* ``gunicorn`` with 3 worker processes of 4 threads each, plus one ``relay_events`` process (what
  docs/events.md tells a deployment behind another server to run);
* ``manage.py serve`` (what ``make run`` starts: runserver's threads plus the relay thread).

Whatever the server: no "database is locked" anywhere, no 5xx, every order decided in its request
(confirmed or cancelled, with one email), and once the load is over every publication completes
with nothing run by hand (the failing subscriber's retries included).
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.processes import gunicorn, manage, project_env
from tests.support.services import serving_on_a_free_port
from tests.support.stack import Process, stop_all
from tests.support.tokens import customer, staff

pytestmark = pytest.mark.e2e

CLIENTS = 16
ROUNDS = 10  # per client: an order, then a few reads or a stock change
SCARCE = "MN-303"  # staff keep its stock a few units above what is reserved: some orders are cancelled
PATIENCE = 120.0
EVENTS = {"SEAMS_EVENT_BACKOFF_BASE": "0.2", "SEAMS_EVENT_BACKOFF_MAX": "1", "SEAMS_EVENT_MAX_ATTEMPTS": "1000"}


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as conn:
        return conn.execute(sql).fetchall()


@contextlib.contextmanager
def served(kind: str, env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, list[Process]]]:
    """The server and the relay beside it; yields the base URL and the processes whose logs count."""
    if kind == "gunicorn":
        relay = Process("relay", [sys.executable, "manage.py", "relay_events", "--interval", "0.5"], env, tmp_path).start()
        try:
            with gunicorn(env, log=tmp_path / "gunicorn.log", options=("--workers", "3", "--threads", "4", "--worker-class", "gthread")) as base:
                yield base, [relay]
        finally:
            stop_all([relay])
        return
    command = [sys.executable, "manage.py", "serve", "--noreload", "--relay-interval", "0.5"]
    server, base = serving_on_a_free_port(lambda port: Process("serve", [*command, f"127.0.0.1:{port}"], env, tmp_path), timeout=PATIENCE)
    try:
        yield base, [server]
    finally:
        stop_all([server])


@pytest.mark.parametrize("kind", ["gunicorn", "serve"])
def test_a_mixed_load_on_the_embedded_default_is_decided_and_drained_with_no_hand_run_command(kind: str, tmp_path: Path) -> None:
    var = tmp_path / "var"
    env = project_env({
        "SEAMS_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "tests.settings", "DEBUG": "false", **EVENTS,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "SEAMS_API_RATE_ANONYMOUS": "100000/min", "SEAMS_API_RATE_AUTHENTICATED": "100000/min",
    })
    manage(["migrate_modules"], env)
    manage(["seed_shop"], env)
    answers: Counter[int] = Counter()
    placed: list[tuple[int, str, str]] = []

    def client(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(base_url=base, timeout=120) as http:
            for r in range(ROUNDS):
                kind_of = ("slow", "flaky", "plain", "plain")[(n + r) % 4]
                email = f"{kind_of}-{n}-{r}@example.com"
                lines = [{"sku": SCARCE, "quantity": rng.randint(1, 2)}, {"sku": "CB-505", "quantity": 1}]
                answer = http.post("/api/orders/", json={"lines": lines}, headers=customer(email))
                answers[answer.status_code] += 1
                assert answer.status_code == 201, answer.text
                order = answer.json()
                placed.append((order["id"], order["status"], email))
                for read in (f"/api/catalog/products/{SCARCE}", f"/api/inventory/stock/{SCARCE}", "/api/inventory/stock/CB-505"):
                    got = http.get(read)
                    answers[got.status_code] += 1
                got = http.get(f"/api/orders/{order['id']}", headers=customer(email))
                answers[got.status_code] += 1
                got = http.get("/api/notifications/", headers=customer(email))
                answers[got.status_code] += 1
                if r % 3 == n % 3:  # staff set the scarce stock a little above what is reserved now
                    reserved = http.get(f"/api/inventory/stock/{SCARCE}").json()["reserved"]
                    got = http.put(f"/api/inventory/stock/{SCARCE}", json={"quantity": reserved + rng.randint(0, 4)}, headers=staff())
                    answers[got.status_code] += 1  # 409 when orders reserved more meanwhile: a refusal, not a failure
                if r % 5 == 0:
                    got = http.put("/api/inventory/stock/CB-505", json={"quantity": 100_000}, headers=staff())
                    answers[got.status_code] += 1

    with served(kind, env, tmp_path) as (base, processes):
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(client, range(CLIENTS)))
        # The failing subscriber's retries (and any completion mark) finish by themselves.
        deadline = time.monotonic() + PATIENCE
        while True:
            open_ = [rows(var / f"{m}.sqlite3", "SELECT status, count(*) FROM seams_publication "
                          "WHERE status IN ('pending', 'processing', 'failed') GROUP BY status") for m in ("orders", "inventory")]
            if not any(open_):
                break
            assert all(p.running for p in processes), [p.tail() for p in processes]
            assert time.monotonic() < deadline, f"still open after {PATIENCE} s: {open_}"
            time.sleep(0.5)

    logs = "".join(p.log.read_text(errors="replace") for p in processes)
    if kind == "gunicorn":
        logs += (tmp_path / "gunicorn.log").read_text(errors="replace")
    assert "database is locked" not in logs, logs[-4000:]
    assert not [code for code in answers if code >= 500], (answers, logs[-4000:])
    assert set(answers) <= {200, 201, 409}, answers
    statuses = Counter(status for _, status, _ in placed)
    assert len(placed) == CLIENTS * ROUNDS and set(statuses) <= {"confirmed", "cancelled"}, statuses
    assert statuses["cancelled"] > 0 and statuses["confirmed"] > 0, statuses  # both outcomes were exercised
    db = dict(rows(var / "orders.sqlite3", "SELECT status, count(*) FROM orders_order GROUP BY status"))
    assert db == dict(statuses)
    assert rows(var / "notifications.sqlite3", "SELECT count(*) FROM notifications_sentemail") == [(len(placed),)]
    assert rows(var / "eventprobe.sqlite3", "SELECT count(DISTINCT event_id), count(*) FROM eventprobe_handledevent") == [(len(placed), len(placed))]
    reserved = rows(var / "inventory.sqlite3", f"SELECT reserved FROM inventory_stockitem WHERE sku = '{SCARCE}'")
    wanted = rows(var / "inventory.sqlite3", f"SELECT coalesce(sum(quantity), 0) FROM inventory_reservation WHERE sku = '{SCARCE}'")
    assert reserved == wanted, (reserved, wanted)
    for module in ("orders", "inventory"):
        done = rows(var / f"{module}.sqlite3", "SELECT DISTINCT status FROM seams_publication")
        assert done == [("completed",)], (module, done)
