"""Public REST endpoints of the inventory (mounted at /api/inventory/). Reading a stock level is
open to anyone; setting one needs a staff token (scope ``shop:staff``)."""

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import ConfigDict, Field

from contracts.catalog import Sku
from contracts.inventory import StockLevel
from contracts.kernel.public import JsonInt, TokenAuth, error_responses

from . import selectors, services

router = Router(tags=["inventory"])
STAFF = TokenAuth(scopes=["shop:staff"])

#: Larger counts are typing mistakes, and would overflow the column.
MAX_STOCK = 1_000_000_000


class StockIn(Schema):
    model_config = ConfigDict(extra="forbid")

    quantity: JsonInt = Field(ge=0, le=MAX_STOCK, description="Units on hand (a count, not a delta).")


@router.put("/stock/{sku}", response={200: StockLevel, **error_responses(409)}, auth=STAFF)
def set_stock(request: HttpRequest, payload: StockIn, sku: Sku) -> StockLevel:
    return services.stock_set(sku=sku, quantity=payload.quantity)


@router.get("/stock/{sku}", response={200: StockLevel})
def get_stock(request: HttpRequest, sku: Sku) -> StockLevel:
    return selectors.stock_get(sku)
