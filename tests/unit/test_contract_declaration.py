"""contracts/kernel/contract.py: declaring a contract records its methods and their problems."""

from typing import Any

import pytest

from contracts.kernel import Contract, Schema, query
from contracts.kernel.contract import MethodSpec, declared_contracts


class PriceDTO(Schema):
    sku: str
    cents: int


class Pricing(Contract, module="testmod"):
    """A well-typed contract declared for the module 'testmod'."""

    @query
    def price_of(self, sku: str) -> PriceDTO: ...

    def set_price(self, sku: str, cents: int, *, reason: str = "") -> None: ...

    def _helper(self) -> None:
        """Private: not part of the contract."""

    @staticmethod
    def build() -> None:
        """Not a plain function on the class: not part of the contract."""


def test_a_declaration_records_its_name_module_and_methods() -> None:
    assert Pricing.__seams_contract__ is Pricing
    assert Pricing.__seams_module__ == "testmod"
    assert Pricing.__seams_name__ == "testmod.Pricing"
    assert declared_contracts["testmod.Pricing"] is Pricing
    assert list(Pricing.__seams_methods__) == ["price_of", "set_price"]


def test_method_specs_keep_signature_hints_and_query_flag() -> None:
    price_of: MethodSpec = Pricing.__seams_methods__["price_of"]
    set_price: MethodSpec = Pricing.__seams_methods__["set_price"]
    assert price_of.is_query is True
    assert set_price.is_query is False
    assert price_of.hints == {"sku": str, "return": PriceDTO}
    assert [p.name for p in set_price.parameters] == ["sku", "cents", "reason"]
    assert Pricing.contract_problems() == []


def test_query_marks_the_function_itself() -> None:
    def read(self: object) -> int:
        return 1

    assert query(read) is read
    assert read.__seams_query__ is True


def test_problems_of_untyped_or_untransportable_methods_are_recorded() -> None:
    class Sloppy(Contract, module="testmod"):
        def no_param_type(self, sku) -> int: ...  # type: ignore[no-untyped-def]

        def no_return_type(self, sku: str): ...  # type: ignore[no-untyped-def]

        def star_args(self, *skus: str) -> int: ...

        def star_kwargs(self, **options: str) -> int: ...

        def takes_any(self, value: Any) -> int: ...

        def returns_bytes(self) -> bytes: ...

    problems = {name: spec.problems for name, spec in Sloppy.__seams_methods__.items()}
    assert problems["no_param_type"] == ("Sloppy.no_param_type: parameter 'sku' has no type annotation",)
    assert problems["no_return_type"] == (
        "Sloppy.no_return_type: the return type is not annotated (use '-> None' if nothing is returned)",
    )
    assert problems["star_args"] == ("Sloppy.star_args: *skus is not allowed; name every parameter",)
    assert problems["star_kwargs"] == ("Sloppy.star_kwargs: **options is not allowed; name every parameter",)
    assert problems["takes_any"][0].startswith("Sloppy.takes_any(value): 'Any'/'object'")
    assert problems["returns_bytes"][0].startswith("Sloppy.returns_bytes -> return: bytes has no JSON form")
    assert Sloppy.contract_problems() == [p for group in problems.values() for p in group]


def test_an_annotation_naming_something_undefined_is_a_problem_not_a_crash() -> None:
    class Dangling(Contract, module="testmod"):
        def get(self, sku: "NoSuchType") -> int: ...  # type: ignore[name-defined]  # noqa: F821

    (problem,) = Dangling.contract_problems()
    assert problem.startswith("Dangling.get: cannot resolve annotations")
    assert "NoSuchType" in problem


def test_declaring_outside_contracts_without_module_is_refused() -> None:
    with pytest.raises(TypeError) as caught:

        class Stray(Contract):
            def get(self) -> int: ...

    message = str(caught.value)
    assert f"declared in {__name__}" in message
    assert "declare contracts in contracts/<module>.py" in message
    assert "class Stray(Contract, module='...')" in message


def test_a_subclass_of_a_declaration_is_an_implementation_not_a_declaration() -> None:
    before = dict(declared_contracts)

    class PricingImplementation(Pricing):
        def price_of(self, sku: str) -> PriceDTO:
            return PriceDTO(sku=sku, cents=1)

        def set_price(self, sku: str, cents: int, *, reason: str = "") -> None:
            return None

    assert declared_contracts == before
    assert PricingImplementation.__seams_contract__ is Pricing
    assert PricingImplementation.__seams_name__ == "testmod.Pricing"
    assert PricingImplementation.__seams_methods__ is Pricing.__seams_methods__


def test_the_owner_of_a_contract_in_contracts_is_its_file() -> None:
    from contracts.catalog import Catalog

    assert Catalog.__seams_module__ == "catalog"
    assert Catalog.__seams_name__ == "catalog.Catalog"
    assert Catalog.contract_problems() == []
