"""Catalog queries (reads)."""

from contracts.catalog import ProductDTO, ProductNotFound

from .models import Product
from .services import to_dto


def product_get(sku: str) -> ProductDTO:
    try:
        return to_dto(Product.objects.get(sku=sku))
    except Product.DoesNotExist:
        raise ProductNotFound(f"No product has SKU '{sku}'.", sku=sku) from None


def products_get(skus: list[str]) -> list[ProductDTO]:
    found = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    for sku in skus:
        if sku not in found:
            raise ProductNotFound(f"No product has SKU '{sku}'.", sku=sku)
    return [to_dto(found[sku]) for sku in skus]
