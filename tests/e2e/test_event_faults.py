"""Events are never lost and never handled twice, proven with real processes under faults:
gunicorn, Celery workers and relays (``manage.py relay_events``) against a real PostgreSQL and a
private Redis, killed with SIGKILL at random moments, or with the broker gone."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.stack import PrivateRedis, Stack, postgres_database
from tests.support.tokens import customer, staff

pytestmark = [pytest.mark.e2e, pytest.mark.faults, pytest.mark.own_stack]

PLENTY, SCARCE = "KB-101", "MS-202"


@pytest.fixture
def deploy(tmp_path: Path) -> Iterator[callable]:
    """Build a stack (database, private Redis, migrations, demo data); stopped at the end."""
    stacks: list[tuple[Stack, PrivateRedis]] = []
    with postgres_database() as database_url:

        def build(**events: str) -> tuple[Stack, PrivateRedis]:
            broker = PrivateRedis(tmp_path)
            broker.start()
            stack = Stack(database_url, broker.url, tmp_path, **events)
            stack.manage("migrate_modules")
            stack.manage("seed_shop")
            stacks.append((stack, broker))
            return stack, broker

        try:
            yield build
        finally:
            for stack, broker in stacks:
                stack.stop()
                broker.stop()


def wait_for_web(base: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/api/openapi.json", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("web did not start")
        time.sleep(0.2)


def set_stock(base: str, sku: str, quantity: int) -> None:
    assert httpx.put(f"{base}/api/inventory/stock/{sku}", json={"quantity": quantity}, headers=staff(), timeout=30).status_code == 200


def place_orders(base: str, count: int, threads: int = 4, first: int = 0) -> list[int]:
    """POST ``count`` orders (one in five asks for the scarce SKU too); returns their ids."""

    def place(n: int) -> int:
        lines = [{"sku": PLENTY, "quantity": 1}] + ([{"sku": SCARCE, "quantity": 1}] if n % 5 == 0 else [])
        with httpx.Client(timeout=30) as http:
            r = http.post(f"{base}/api/orders/", json={"lines": lines}, headers=customer(f"c{n}@example.com"))
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(place, range(first, first + count)))


def assert_effectively_once(stack: Stack, orders: int) -> None:
    """Every order decided, every publication completed, every side effect exactly once."""
    statuses = stack.publication_statuses()
    assert set(statuses) == {"completed"}, statuses
    assert stack.scalar("SELECT count(*) FROM orders.orders_order") == orders
    assert stack.scalar("SELECT count(*) FROM orders.orders_order WHERE status = 'pending'") == 0
    # One email per order, never two (subjects name the order).
    assert stack.scalar("SELECT count(*) FROM notifications.notifications_sentemail") == orders
    assert stack.scalar("SELECT count(DISTINCT subject) FROM notifications.notifications_sentemail") == orders
    # Reservations: exactly the lines of the confirmed orders, and the stock counters agree.
    confirmed_lines = stack.scalar(
        "SELECT count(*) FROM orders.orders_orderline l JOIN orders.orders_order o ON o.id = l.order_id"
        " WHERE o.status = 'confirmed'"
    )
    assert stack.scalar("SELECT count(*) FROM inventory.inventory_reservation") == confirmed_lines
    assert stack.scalar(
        "SELECT count(*) FROM inventory.inventory_reservation r JOIN orders.orders_order o ON o.id = r.order_id"
        " WHERE o.status <> 'confirmed'"
    ) == 0
    assert stack.query(
        "SELECT s.sku FROM inventory.inventory_stockitem s LEFT JOIN"
        " (SELECT sku, sum(quantity) AS q FROM inventory.inventory_reservation GROUP BY sku) r ON r.sku = s.sku"
        " WHERE s.reserved <> coalesce(r.q, 0)"
    ) == []
    # Each publication is recorded as handled once: one row per (event, subscriber), completed.
    # Module schemas of one database, completion "keep": every handler's transaction completed its
    # publication, which is the record (no inbox row; docs/events.md, "The completed publication as
    # the inbox row"); the side effects above say that no handler ran twice.
    for schema in ("inventory", "orders"):
        assert stack.scalar(
            f"SELECT count(*) - count(DISTINCT (event_id, subscriber)) FROM {schema}.seams_publication"
        ) == 0, schema
    for module in ("inventory", "orders", "notifications"):
        assert stack.scalar(f"SELECT count(*) FROM {module}.seams_inbox") == 0, module


def test_sigkilled_workers_and_relays_lose_nothing_and_repeat_nothing(deploy: callable) -> None:
    stack, _ = deploy(stale_after="30", lease="8", backoff_base="0.5", backoff_max="5")
    web, base = stack.web()
    worker = stack.worker()
    relay = stack.relay()
    wait_for_web(base)
    set_stock(base, PLENTY, 1_000_000)
    set_stock(base, SCARCE, 150)  # about 400 orders want one: most of those are cancelled

    done = threading.Event()
    rng = random.Random(20261125)

    def chaos() -> None:
        while not done.is_set():
            time.sleep(rng.uniform(3.0, 8.0))
            victim = rng.choice([worker, worker, relay])
            victim.kill()
            time.sleep(rng.uniform(0.2, 1.0))
            victim.start()

    killer = threading.Thread(target=chaos, daemon=True)
    killer.start()
    try:
        ids = place_orders(base, 2000)
        # Keep the chaos going into the drain, until it has killed something after the last order and
        # the kills asserted below have happened, then let the survivors finish. A fixed 5 s here made
        # the count depend on the machine's speed: the seeded schedule kills the relay first at about
        # 22 s, so placing the 2,000 orders in under ~14 s (> ~150 orders/s) failed the kill assertion.
        placed_at_kill = worker.kills + relay.kills
        deadline = time.monotonic() + 120
        while worker.kills < 3 or relay.kills < 1 or worker.kills + relay.kills == placed_at_kill:
            assert time.monotonic() < deadline and killer.is_alive(), (worker.kills, relay.kills)
            time.sleep(0.2)
    finally:
        done.set()
        killer.join()
    for process in (worker, relay):
        if not process.running:
            process.start()
    stack.wait_until_drained(timeout=900)

    assert len(set(ids)) == 2000
    assert worker.kills >= 3 and relay.kills >= 1, (worker.kills, relay.kills)
    assert_effectively_once(stack, 2000)
    cancelled = stack.scalar("SELECT count(*) FROM orders.orders_order WHERE status = 'cancelled'")
    assert cancelled == 400 - 150


def test_redis_outage_loses_no_event(deploy: callable) -> None:
    stack, broker = deploy(stale_after="2", lease="10")
    web, base = stack.web()
    stack.worker()
    stack.relay()
    wait_for_web(base)
    set_stock(base, PLENTY, 100_000)
    set_stock(base, SCARCE, 100_000)

    place_orders(base, 50)
    broker.stop()
    started = time.monotonic()
    place_orders(base, 50, first=50)  # the outbox holds them; every request still succeeds
    assert time.monotonic() - started < 60
    assert stack.scalar("SELECT count(DISTINCT event_id) FROM orders.seams_publication WHERE event_type = 'orders.OrderPlaced'") == 100
    broker.start()
    stack.wait_until_drained(timeout=240)
    assert_effectively_once(stack, 100)


def test_four_workers_and_four_relays_handle_each_publication_once(deploy: callable) -> None:
    # Relays re-dispatch anything pending for over a second, so duplicate task messages abound.
    stack, _ = deploy(stale_after="1", lease="60")
    web, base = stack.web()
    for n in range(4):
        stack.worker(f"worker{n}", concurrency=1)
        stack.relay(f"relay{n}", interval=0.5)
    wait_for_web(base)
    set_stock(base, PLENTY, 100_000)
    set_stock(base, SCARCE, 100_000)

    place_orders(base, 300)
    stack.wait_until_drained(timeout=240)
    assert_effectively_once(stack, 300)
    # A claim counts an attempt: more than one would mean two workers ran the same publication.
    for schema in ("inventory", "orders"):
        assert stack.scalar(f"SELECT max(attempts) FROM {schema}.seams_publication") == 1, schema
