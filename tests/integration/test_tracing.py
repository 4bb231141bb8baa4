"""One order, one trace, in process: the span tree from the request to the last handler.

``POST /api/orders/`` -> ``catalog.Catalog.get_products`` -> ``publish orders.OrderPlaced`` ->
``handle orders.OrderPlaced`` (inventory) -> ``publish inventory.StockReserved`` -> ``handle`` (orders)
-> ``publish orders.OrderConfirmed`` -> ``handle orders.OrderConfirmed`` (notifications), every
span in one trace, each handler a child of the publication it handles."""

from __future__ import annotations

import pytest
from django.test import Client

from .shop import add_product, place_order

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


def test_one_order_is_one_trace_through_every_module(spans: object) -> None:
    client = Client()
    add_product(client, "KB-101", 4999, stock=3)
    spans.clear()  # type: ignore[attr-defined]

    assert place_order(client, "ada@example.com", ("KB-101", 1)).json()["status"] == "confirmed"

    finished = spans.get_finished_spans()  # type: ignore[attr-defined]
    (request,) = [s for s in finished if s.kind.name == "SERVER" and s.attributes.get("http.route") == "api/orders/"]
    trace = request.context.trace_id
    assert {s.context.trace_id for s in finished} == {trace}, "every span of the order is in the request's trace"
    by_id = {s.context.span_id: s for s in finished}

    def parent(span: object) -> object:
        return by_id[span.parent.span_id]  # type: ignore[attr-defined]

    def one(name: str, **attributes: object) -> object:
        matching = [s for s in finished if s.name == name and all(s.attributes.get(k) == v for k, v in attributes.items())]
        assert len(matching) == 1, (name, attributes, [s.name for s in finished])
        return matching[0]

    call = one("catalog.Catalog.get_products")
    assert call.kind.name == "INTERNAL" and call.attributes["seams.transport"] == "inprocess"
    assert call.attributes["seams.outcome"] == "ok" and parent(call) is request

    placed = one("publish orders.OrderPlaced")
    assert placed.kind.name == "PRODUCER" and parent(placed) is request
    reserve = one("handle orders.OrderPlaced", **{"seams.module": "inventory"})
    assert reserve.kind.name == "CONSUMER" and parent(reserve) is placed
    assert reserve.attributes["seams.attempt"] == 1 and reserve.attributes["seams.outcome"] == "completed"

    reserved = one("publish inventory.StockReserved")
    assert parent(reserved) is reserve
    confirm = one("handle inventory.StockReserved")
    assert parent(confirm) is reserved and confirm.attributes["seams.module"] == "orders"

    confirmed = one("publish orders.OrderConfirmed")
    assert parent(confirmed) is confirm
    email = one("handle orders.OrderConfirmed", **{"seams.module": "notifications"})
    assert parent(email) is confirmed and email.attributes["seams.outcome"] == "completed"


def test_a_handler_retried_later_still_joins_the_publishing_trace(spans: object) -> None:
    from contracts.kernel.testing import deliver_pending

    client = Client()
    add_product(client, "KB-101", 4999, stock=3)
    spans.clear()  # type: ignore[attr-defined]
    # The probe fails its first two attempts; the retries run outside the request, later.
    assert place_order(client, "flaky@example.com", ("KB-101", 1)).status_code == 201
    (placed,) = [s for s in spans.get_finished_spans() if s.name == "publish orders.OrderPlaced"]  # type: ignore[attr-defined]
    spans.clear()  # type: ignore[attr-defined]

    deliver_pending()

    retries = [s for s in spans.get_finished_spans() if s.name == "handle orders.OrderPlaced"]  # type: ignore[attr-defined]
    assert [s.attributes["seams.outcome"] for s in retries] == ["failed", "completed"]
    assert [s.attributes["seams.attempt"] for s in retries] == [2, 3]
    assert {s.context.trace_id for s in retries} == {placed.context.trace_id}
    assert {s.parent.span_id for s in retries} == {placed.context.span_id}
    assert retries[0].status.status_code.name == "ERROR" and retries[0].events[0].name == "exception"
