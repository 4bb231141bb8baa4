"""Public REST endpoints of the catalog (mounted at /api/catalog/)."""

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from contracts.catalog import ProductDTO

from . import selectors, services

router = Router(tags=["catalog"])


class ProductIn(Schema):
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str = Field(min_length=1, max_length=200)
    price_cents: int = Field(ge=0)


@router.post("/products/", response={201: ProductDTO})
def create_product(request: HttpRequest, payload: ProductIn) -> Status:
    return Status(201, services.product_create(sku=payload.sku, name=payload.name, price_cents=payload.price_cents))


@router.get("/products/{sku}", response=ProductDTO)
def get_product(request: HttpRequest, sku: str) -> ProductDTO:
    return selectors.product_get(sku)
