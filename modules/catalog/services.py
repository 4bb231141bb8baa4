"""Catalog business logic (writes)."""

from django.db import IntegrityError

from contracts.catalog import MAX_PRICE_CENTS, ProductDTO
from contracts.kernel import Conflict, Invalid, atomic

from .models import Product


class ProductAlreadyExists(Conflict):
    """A product with this SKU already exists."""


def product_create(*, sku: str, name: str, price_cents: int) -> ProductDTO:
    if isinstance(price_cents, bool) or not 0 <= price_cents <= MAX_PRICE_CENTS:
        raise Invalid(f"A price is a whole number of cents from 0 to {MAX_PRICE_CENTS}.", field=["payload", "price_cents"])
    try:
        with atomic():
            product = Product.objects.create(sku=sku, name=name, price_cents=price_cents)
    except IntegrityError:
        raise ProductAlreadyExists(f"A product with SKU '{sku}' already exists.", sku=sku) from None
    return to_dto(product)


def to_dto(product: Product) -> ProductDTO:
    return ProductDTO(sku=product.sku, name=product.name, price_cents=product.price_cents)
