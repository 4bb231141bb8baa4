"""The catalog module's published language: products and their prices."""

from contracts.kernel import Contract, NotFound, Schema, query


class ProductDTO(Schema):
    sku: str
    name: str
    price_cents: int


class ProductNotFound(NotFound):
    """No product has this SKU."""


class Catalog(Contract):
    """What the catalog offers to other modules."""

    @query
    def get_product(self, sku: str) -> ProductDTO:
        """The product with this SKU; raises ProductNotFound."""
        ...

    @query
    def get_products(self, skus: list[str]) -> list[ProductDTO]:
        """The products with these SKUs, in the same order; raises ProductNotFound for the first unknown one."""
        ...
