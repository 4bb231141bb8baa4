"""A string argument holding NUL is refused before the implementation runs, on every transport:
PostgreSQL's text columns cannot store it, so letting it through was a 500 from the database
(found by the internal schemathesis run on PostgreSQL)."""

import pytest

from contracts.catalog import Catalog
from contracts.kernel import ContractViolation
from extraction.wire import decode_arguments, holds_nul


def test_decoding_refuses_a_nul_anywhere_in_the_arguments() -> None:
    with pytest.raises(ContractViolation, match=r"get_product\(sku\): strings may not contain the NUL character"):
        decode_arguments(Catalog, "get_product", {"sku": "KB\x00"})
    with pytest.raises(ContractViolation, match=r"get_products\(skus\)"):
        decode_arguments(Catalog, "get_products", {"skus": ["ok", "\x00"]})
    assert decode_arguments(Catalog, "get_product", {"sku": "KB-101"}) == {"sku": "KB-101"}


def test_holds_nul_looks_inside_containers() -> None:
    assert holds_nul({"a": ["x", ("y", "z\x00")]}) and holds_nul({"\x00": 1})
    assert not holds_nul({"a": ["x", 1, None, 2.5]})
