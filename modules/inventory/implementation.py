"""The inventory's implementation of its contract: a thin adapter over selectors."""

from contracts.inventory import Inventory, StockLevel
from contracts.kernel import implements

from . import selectors


@implements(Inventory)
class InventoryImplementation(Inventory):
    def get_stock(self, sku: str) -> StockLevel:
        return selectors.stock_get(sku)
