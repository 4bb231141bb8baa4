"""The catalog's implementation of its contract: a thin adapter over selectors."""

from contracts.catalog import Catalog, ProductDTO
from contracts.kernel import implements

from . import selectors


@implements(Catalog)
class CatalogImplementation(Catalog):
    def get_product(self, sku: str) -> ProductDTO:
        return selectors.product_get(sku)

    def get_products(self, skus: list[str]) -> list[ProductDTO]:
        return selectors.products_get(skus)
