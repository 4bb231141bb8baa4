"""seams.E003 (contract types), E004 (no implementation), E005 (two), E007 (provided by the wrong module)."""

from typing import Any

from contracts.kernel import Contract
from contracts.kernel.checks import contract_type_errors, implementation_errors
from contracts.kernel.registry import Registry
from tests.unit.manifests import module_config


class Billing(Contract, module="billing"):
    def invoice(self, order_id: int) -> str: ...


class BillingImplementation(Billing):
    def invoice(self, order_id: int) -> str:
        return "INV-1"


class OtherBillingImplementation(Billing):
    def invoice(self, order_id: int) -> str:
        return "INV-2"


def registry_with(*implementations: type[Contract]) -> Registry:
    registry = Registry()
    for implementation in implementations:
        registry.add_implementation(implementation.__seams_contract__, implementation)
    return registry


# --- E003 ------------------------------------------------------------------------------------------
def test_a_contract_type_that_cannot_cross_is_e003() -> None:
    class Leaky(Contract, module="billing"):
        def raw(self, data: Any) -> bytes: ...

    errors = contract_type_errors([Billing, Leaky])
    assert [e.id for e in errors] == ["seams.E003", "seams.E003"]
    assert errors[0].msg.startswith("billing.Leaky: Leaky.raw(data): 'Any'/'object' has no fixed wire form")
    assert errors[1].msg.startswith("billing.Leaky: Leaky.raw -> return: bytes has no JSON form")
    assert all(e.obj == "billing.Leaky" for e in errors)
    assert all("Declare a Schema DTO in the contract file" in e.hint for e in errors)


def test_well_typed_contracts_pass_e003() -> None:
    assert contract_type_errors([Billing]) == []


# --- E004 ------------------------------------------------------------------------------------------
def test_a_provided_contract_without_implementation_is_e004() -> None:
    (error,) = implementation_errors([module_config("billing", provides=[Billing])], Registry())
    assert error.id == "seams.E004"
    assert error.msg == "Module 'billing' provides billing.Billing but registers no implementation."
    assert error.hint == (
        "In modules/billing/implementation.py add: @implements(Billing) class BillingImplementation(Billing): ..."
    )


def test_one_implementation_of_a_provided_contract_is_fine() -> None:
    assert (
        implementation_errors([module_config("billing", provides=[Billing])], registry_with(BillingImplementation))
        == []
    )


# --- E005 ------------------------------------------------------------------------------------------
def test_two_implementations_are_e005() -> None:
    registry = registry_with(BillingImplementation, OtherBillingImplementation)
    (error,) = implementation_errors([module_config("billing", provides=[Billing])], registry)
    assert error.id == "seams.E005"
    assert error.msg == (
        f"billing.Billing has 2 implementations: {__name__}.BillingImplementation, {__name__}.OtherBillingImplementation"
    )
    assert "Keep exactly one @implements per contract" in error.hint


# --- E007 ------------------------------------------------------------------------------------------
def test_providing_another_modules_contract_is_e007() -> None:
    modules = [module_config("shop", provides=[Billing]), module_config("billing")]
    (error,) = implementation_errors(modules, registry_with(BillingImplementation))
    assert error.id == "seams.E007"
    assert error.msg == "Module 'shop' provides billing.Billing, which is declared for module 'billing'."
    assert error.hint == "A module provides only contracts declared in contracts/shop.py."


def test_an_implementation_nobody_provides_is_e007() -> None:
    (error,) = implementation_errors([module_config("billing")], registry_with(BillingImplementation))
    assert error.id == "seams.E007"
    assert error.msg == (
        f"billing.Billing is implemented by {__name__}.BillingImplementation but no module lists it in 'provides'."
    )
    assert error.hint == "Add Billing to 'provides' in the manifest of module 'billing'."
    assert error.obj == "billing.Billing"
