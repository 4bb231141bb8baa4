"""Inventory queries (reads)."""

from contracts.inventory import StockLevel, StockNotFound

from .models import StockItem
from .services import to_level


def stock_get(sku: str) -> StockLevel:
    try:
        return to_level(StockItem.objects.get(sku=sku))
    except StockItem.DoesNotExist:
        raise StockNotFound(f"No stock is recorded for SKU '{sku}'.", sku=sku) from None
