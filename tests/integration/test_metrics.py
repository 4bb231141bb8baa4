"""``/metrics``: scraped before and after an order, the counters and gauges move by what the order
did (one HTTP request per route, the events it published and delivered, the outbox drained)."""

from __future__ import annotations

import pytest
from django.test import Client

from extraction.http.breaker import CircuitBreaker
from tests.support.metrics import delta, parse, value

from .shop import add_product, place_order

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def scrape(client: Client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return parse(response.content.decode())


def test_an_order_moves_the_counters_by_what_it_did() -> None:
    client = Client()
    add_product(client, "KB-101", 4999, stock=3)
    before = scrape(client)

    assert place_order(client, "ada@example.com", ("KB-101", 1)).json()["status"] == "confirmed"

    after = scrape(client)
    change = delta(before, after)
    assert change("seams_http_requests_total", route="api/orders/", method="POST", status="201") == 1
    assert change("seams_http_requests_total", route="metrics", method="GET", status="200") == 1
    for event_type in ("orders.OrderPlaced", "inventory.StockReserved", "orders.OrderConfirmed"):
        assert change("seams_events_published_total", event_type=event_type) == 1, event_type
    # Delivered in-process as the request ran: nothing is left open in any outbox.
    for module in ("catalog", "inventory", "orders", "notifications"):
        assert value(after, "seams_outbox_backlog", module=module) == 0, module
        assert value(after, "seams_outbox_oldest_age_seconds", module=module) == 0, module


def test_a_path_no_pattern_knows_is_counted_as_unmatched_not_by_its_path() -> None:
    client = Client()
    before = scrape(client)
    assert client.get("/no/such/path/4711").status_code == 404
    after = scrape(client)
    assert delta(before, after)("seams_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert not [key for key in after if "4711" in str(key)]


def test_the_breaker_state_of_a_target_is_reported() -> None:
    client = Client()
    breaker = CircuitBreaker(threshold=1, cooldown=60, target="http://metrics-test.invalid:1")
    assert value(scrape(client), "seams_breaker_state", target="http://metrics-test.invalid:1") == 0
    assert breaker.allow()
    breaker.failure()
    assert value(scrape(client), "seams_breaker_state", target="http://metrics-test.invalid:1") == 2


def test_the_backlog_counts_open_publications_per_outbox_until_they_are_delivered() -> None:
    from contracts.kernel.testing import deliver_pending

    client = Client()
    add_product(client, "KB-101", 4999, stock=3)
    # The probe's handler fails on its first two attempts: its OrderPlaced publication stays open.
    assert place_order(client, "flaky@example.com", ("KB-101", 1)).json()["status"] == "confirmed"
    waiting = scrape(client)
    assert value(waiting, "seams_outbox_backlog", module="orders") == 1
    assert value(waiting, "seams_outbox_oldest_age_seconds", module="orders") > 0
    assert value(waiting, "seams_outbox_backlog", module="inventory") == 0

    deliver_pending()
    drained = scrape(client)
    assert value(drained, "seams_outbox_backlog", module="orders") == 0
    assert value(drained, "seams_outbox_oldest_age_seconds", module="orders") == 0
