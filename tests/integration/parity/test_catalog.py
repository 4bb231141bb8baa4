"""The catalog's contract, whatever serves it (see conftest.py: one run per binding)."""

from __future__ import annotations

import pytest

from contracts.catalog import Catalog, ProductDTO, ProductNotFound
from contracts.kernel import ContractViolation, NotFound, use

from .conftest import Binding

pytestmark = pytest.mark.e2e


def test_get_product_returns_the_dto(binding: Binding) -> None:
    sku = binding.sku()
    binding.shop.add_product(sku, 4999, name="Mechanical keyboard")
    product = use(Catalog).get_product(sku)
    assert type(product) is ProductDTO
    assert product == ProductDTO(sku=sku, name="Mechanical keyboard", price_cents=4999)
    assert use(Catalog).get_product(sku=sku) == product  # by keyword too


def test_get_products_keeps_the_order_asked_for(binding: Binding) -> None:
    first, second = binding.sku(), binding.sku()
    binding.shop.add_product(first, 100)
    binding.shop.add_product(second, 200)
    products = use(Catalog).get_products([second, first, second])
    assert [(p.sku, p.price_cents) for p in products] == [(second, 200), (first, 100), (second, 200)]
    assert all(type(p) is ProductDTO for p in products)
    assert use(Catalog).get_products([]) == []


def test_an_unknown_sku_raises_product_not_found_with_its_details(binding: Binding) -> None:
    sku = binding.sku()
    with pytest.raises(ProductNotFound) as caught:
        use(Catalog).get_product(sku)
    error = caught.value
    assert type(error) is ProductNotFound and isinstance(error, NotFound)
    assert error.code == "catalog.ProductNotFound"
    assert error.message == f"No product has SKU '{sku}'."
    assert error.details == {"sku": sku}


def test_get_products_names_the_first_unknown_sku(binding: Binding) -> None:
    known, unknown, later = binding.sku(), binding.sku(), binding.sku()
    binding.shop.add_product(known, 100)
    with pytest.raises(ProductNotFound) as caught:
        use(Catalog).get_products([known, unknown, later])
    assert caught.value.details == {"sku": unknown}


def test_arguments_that_do_not_match_the_declaration_are_refused(binding: Binding) -> None:
    catalog = use(Catalog)
    with pytest.raises(ContractViolation):
        catalog.get_product(101)  # type: ignore[arg-type]
    with pytest.raises(ContractViolation):
        catalog.get_products("KB-101")  # type: ignore[arg-type]
    with pytest.raises(ContractViolation):
        catalog.get_product()  # type: ignore[call-arg]
