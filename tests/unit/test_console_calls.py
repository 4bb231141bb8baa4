"""extraction/console/selectors.call_totals: contract calls per providing module, from a registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from extraction.console.selectors import CALLS_METRIC, call_totals


def test_calls_are_summed_per_module_of_the_contract_over_methods_transports_and_outcomes() -> None:
    registry = CollectorRegistry()
    calls = Counter(CALLS_METRIC.removesuffix("_total"), "calls", ["contract", "method", "transport", "outcome"], registry=registry)
    calls.labels("catalog.Catalog", "price_of", "inprocess", "ok").inc(3)
    calls.labels("catalog.Catalog", "get", "http", "unavailable").inc(2)
    calls.labels("inventory.Inventory", "stock_of", "celery", "ok").inc()
    assert call_totals(registry) == {"catalog": 5.0, "inventory": 1.0}


def test_other_metrics_are_ignored() -> None:
    registry = CollectorRegistry()
    Counter("seams_events_published", "events", ["event_type"], registry=registry).labels("orders.OrderPlaced").inc()
    assert call_totals(registry) == {}
