"""The inventory's contract, whatever serves it (see conftest.py: one run per binding)."""

from __future__ import annotations

import pytest

from contracts.inventory import Inventory, StockLevel, StockNotFound
from contracts.kernel import NotFound, use

from .conftest import Binding

pytestmark = pytest.mark.e2e


def test_get_stock_returns_the_level(binding: Binding) -> None:
    sku = binding.sku()
    binding.shop.add_product(sku, 1999, stock=12)
    level = use(Inventory).get_stock(sku)
    assert type(level) is StockLevel
    assert level == StockLevel(sku=sku, on_hand=12, reserved=0, available=12)


def test_a_placed_order_shows_as_reserved_stock(binding: Binding) -> None:
    sku = binding.sku()
    binding.shop.add_product(sku, 1999, stock=5)
    order = binding.shop.place_order("ada@example.com", (sku, 2))
    assert order["status"] == "confirmed"  # events are delivered in the serving process
    assert use(Inventory).get_stock(sku) == StockLevel(sku=sku, on_hand=5, reserved=2, available=3)


def test_a_sku_without_stock_raises_stock_not_found(binding: Binding) -> None:
    sku = binding.sku()
    binding.shop.add_product(sku, 1999)  # in the catalog, but no stock recorded
    with pytest.raises(StockNotFound) as caught:
        use(Inventory).get_stock(sku)
    assert isinstance(caught.value, NotFound)
    assert caught.value.code == "inventory.StockNotFound"
    assert caught.value.message == f"No stock is recorded for SKU '{sku}'."
    assert caught.value.details == {"sku": sku}
