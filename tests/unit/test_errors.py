"""contracts/kernel/errors.py: the two families of errors and the contract errors' wire form."""

import pytest

from contracts.catalog import ProductNotFound
from contracts.kernel import (
    ConfigurationError,
    Conflict,
    ContractError,
    ContractViolation,
    Invalid,
    NotFound,
    NotReady,
    RegistryFrozen,
    SeamsError,
    ServiceUnavailable,
    UndeclaredDependency,
    UnknownName,
)


class QuotaExceeded(Conflict):
    """The quota is used up.

    Longer explanation that is not the message.
    """


@pytest.mark.parametrize(
    "error", [ConfigurationError, RegistryFrozen, NotReady, UnknownName, UndeclaredDependency, ContractViolation]
)
def test_framework_errors_are_seams_errors_not_contract_errors(error: type[Exception]) -> None:
    assert issubclass(error, SeamsError)
    assert not issubclass(error, ContractError)


def test_unknown_name_is_a_lookup_error_and_violation_a_type_error() -> None:
    assert issubclass(UnknownName, LookupError)
    assert issubclass(ContractViolation, TypeError)


def test_codes_name_the_declaring_module() -> None:
    assert ProductNotFound.code == "catalog.ProductNotFound"
    assert NotFound.code == "seams.NotFound"
    assert QuotaExceeded.code == f"{__name__}.QuotaExceeded"
    assert ContractError.by_code["catalog.ProductNotFound"] is ProductNotFound
    assert ContractError.by_code[QuotaExceeded.code] is QuotaExceeded


def test_a_module_internal_error_is_coded_by_its_module_not_its_python_path() -> None:
    from modules.catalog.services import ProductAlreadyExists
    from modules.orders.services import OrderNotPending

    assert ProductAlreadyExists.code == "catalog.ProductAlreadyExists"  # was modules.catalog.services.ProductAlreadyExists
    assert OrderNotPending.code == "orders.OrderNotPending"


def test_the_message_defaults_to_the_first_docstring_line() -> None:
    assert QuotaExceeded().message == "The quota is used up."
    assert str(QuotaExceeded("custom")) == "custom"


def test_to_dict_carries_code_message_and_details() -> None:
    error = ProductNotFound("No product has SKU 'X'.", sku="X")
    assert error.to_dict() == {
        "code": "catalog.ProductNotFound",
        "message": "No product has SKU 'X'.",
        "details": {"sku": "X"},
    }


def test_invalid_names_the_offending_field() -> None:
    error = Invalid("quantity must be positive", field=["lines", 0, "quantity"])
    assert error.field == ["lines", 0, "quantity"]
    assert error.details == {"field": ["lines", 0, "quantity"]}
    assert Invalid().field is None


@pytest.mark.parametrize("kind", [NotFound, Conflict, Invalid, ServiceUnavailable])
def test_the_four_kinds_are_contract_errors(kind: type[ContractError]) -> None:
    assert issubclass(kind, ContractError)
    assert kind().message  # every kind has a default message
