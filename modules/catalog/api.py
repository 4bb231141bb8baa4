"""Public REST endpoints of the catalog (mounted at /api/catalog/). Reading a product is open to
anyone; creating one needs a staff token (scope ``shop:staff``)."""

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field

from contracts.catalog import MAX_PRICE_CENTS, ProductDTO, Sku
from contracts.kernel.public import JsonInt, TokenAuth, error_responses

from . import selectors, services

router = Router(tags=["catalog"])
STAFF = TokenAuth(scopes=["shop:staff"])


class ProductIn(Schema):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    #: No control characters (NUL cannot even be stored by PostgreSQL).
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1F\x7F]+$")
    #: ``false`` or ``"12"`` is not a price (JsonInt).
    price_cents: JsonInt = Field(ge=0, le=MAX_PRICE_CENTS)


@router.post("/products/", response={201: ProductDTO, **error_responses(409)}, auth=STAFF)
def create_product(request: HttpRequest, payload: ProductIn) -> Status:
    return Status(201, services.product_create(sku=payload.sku, name=payload.name, price_cents=payload.price_cents))


@router.get("/products/{sku}", response={200: ProductDTO})
def get_product(request: HttpRequest, sku: Sku) -> ProductDTO:
    return selectors.product_get(sku)
