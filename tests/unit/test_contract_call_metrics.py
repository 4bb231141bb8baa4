"""contracts/kernel/telemetry/calls.py: every call counted once, by outcome, with its duration,
successful calls through the lock-free tallies (flushed before any collection)."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest

from contracts.catalog import Catalog, ProductNotFound
from contracts.kernel import ServiceUnavailable
from contracts.kernel.telemetry.calls import observe, outcome_of
from tests.support.metrics import delta, parse


def scrape() -> dict:
    return {key: value for key, value in parse(generate_latest(REGISTRY).decode()).items() if key[0].startswith("seams_")}


def test_calls_are_counted_by_outcome_and_timed() -> None:
    def answer(sku: str) -> str:
        if sku == "missing":
            raise ProductNotFound("no such product", sku=sku)
        if sku == "down":
            raise ServiceUnavailable("down")
        return sku

    call = observe(Catalog, "get_product", "faketransport", answer)
    before = scrape()
    assert [call("A"), call("B"), call("C")] == ["A", "B", "C"]
    for sku in ("missing", "down"):
        try:
            call(sku)
        except (ProductNotFound, ServiceUnavailable):
            pass
    change = delta(before, scrape())
    labels = {"contract": "catalog.Catalog", "method": "get_product", "transport": "faketransport"}
    assert change("seams_contract_calls_total", **labels, outcome="ok") == 3  # tallied, flushed by the collection
    assert change("seams_contract_calls_total", **labels, outcome="contract_error") == 1
    assert change("seams_contract_calls_total", **labels, outcome="unavailable") == 1
    assert change("seams_contract_call_duration_seconds_count", **labels) == 5
    assert change("seams_contract_call_duration_seconds_bucket", **labels, le="+Inf") == 5
    assert change("seams_contract_call_duration_seconds_sum", **labels) > 0
    assert scrape() == scrape()  # nothing left pending: a second collection adds nothing


def test_the_outcome_of_an_exception() -> None:
    assert outcome_of(ProductNotFound("x")) == "contract_error"
    assert outcome_of(ServiceUnavailable("x")) == "unavailable"
    assert outcome_of(TypeError("x")) == "error"
