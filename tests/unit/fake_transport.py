"""A transport factory for SEAMS_TRANSPORTS in tests: serves any contract with a recording fake."""

from typing import Any

from contracts.catalog import Catalog, ProductDTO
from contracts.kernel import Contract


class RemoteCatalog(Catalog):
    """What a transport client looks like: a subclass of the contract (here answering locally)."""

    def __init__(self, binding: dict[str, str]) -> None:
        self.binding = binding

    def get_product(self, sku: str) -> ProductDTO:
        return ProductDTO(sku=sku, name=f"remote via {self.binding['URL']}", price_cents=1)

    def get_products(self, skus: list[str]) -> list[ProductDTO]:
        return [self.get_product(sku) for sku in skus]


def client_factory(*, contract: type[Contract], binding: dict[str, Any]) -> Contract:
    assert contract is Catalog, contract
    return RemoteCatalog(binding)
