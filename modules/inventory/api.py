"""Public REST endpoints of the inventory (mounted at /api/inventory/)."""

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from contracts.inventory import StockLevel

from . import selectors, services

router = Router(tags=["inventory"])

#: Larger counts are typing mistakes, and would overflow the column.
MAX_STOCK = 1_000_000_000


class StockIn(Schema):
    quantity: int = Field(ge=0, le=MAX_STOCK, description="Units on hand (a count, not a delta).")


@router.put("/stock/{sku}", response=StockLevel)
def set_stock(request: HttpRequest, sku: str, payload: StockIn) -> StockLevel:
    return services.stock_set(sku=sku, quantity=payload.quantity)


@router.get("/stock/{sku}", response=StockLevel)
def get_stock(request: HttpRequest, sku: str) -> StockLevel:
    return selectors.stock_get(sku)
