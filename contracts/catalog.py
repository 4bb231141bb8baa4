"""The catalog module's published language: products and their prices."""

from typing import Annotated

from pydantic import Field

from contracts.kernel import Contract, NotFound, Schema, query

#: What a SKU looks like wherever one is typed in (the catalog's column holds 64 characters).
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
Sku = Annotated[str, Field(min_length=1, max_length=64, pattern=SKU_PATTERN, examples=["KB-101"])]
#: Prices are stored in a 32-bit integer column (PostgreSQL ``integer``), in the catalog and in
#: every order line that copies one; larger values are refused where they come in.
MAX_PRICE_CENTS = 2**31 - 1


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
