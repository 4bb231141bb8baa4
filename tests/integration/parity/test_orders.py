"""The orders module's contract, whatever serves it (see conftest.py: one run per binding)."""

from __future__ import annotations

import pytest

from contracts.kernel import use
from contracts.orders import OrderDTO, OrderLineDTO, OrderNotFound, Orders

from .conftest import Binding

pytestmark = pytest.mark.e2e


def test_get_order_returns_the_order_with_its_lines(binding: Binding) -> None:
    keyboard, cable = binding.sku(), binding.sku()
    binding.shop.add_product(keyboard, 4999, stock=3)
    binding.shop.add_product(cable, 999, stock=10)
    placed = binding.shop.place_order("grace@example.com", (keyboard, 1), (cable, 3))
    order = use(Orders).get_order(placed["id"])
    assert type(order) is OrderDTO and all(type(line) is OrderLineDTO for line in order.lines)
    assert order.id == placed["id"]
    assert order.customer_email == "grace@example.com"
    assert order.status == "confirmed"
    assert order.total_cents == 4999 + 3 * 999
    assert sorted((line.sku, line.quantity, line.unit_price_cents) for line in order.lines) == sorted(
        [(keyboard, 1, 4999), (cable, 3, 999)]
    )
    assert order.model_dump(mode="json") == placed  # what the public API said, field for field


def test_a_cancelled_order_says_so(binding: Binding) -> None:
    sku = binding.sku()
    binding.shop.add_product(sku, 500, stock=1)
    placed = binding.shop.place_order("alan@example.com", (sku, 2))  # more than there is
    assert use(Orders).get_order(placed["id"]).status == "cancelled"


def test_an_unknown_order_raises_order_not_found(binding: Binding) -> None:
    with pytest.raises(OrderNotFound) as caught:
        use(Orders).get_order(987_654_321)
    assert caught.value.code == "orders.OrderNotFound"
    assert caught.value.details == {"order_id": 987_654_321}
