"""seams.E008 (subscriber to an undeclared event), E010 ('handles' mismatch), E012 (publishes another's event)."""

from collections.abc import Callable

from contracts.kernel import Event
from contracts.kernel.checks import event_errors
from contracts.kernel.registry import Registry, Subscriber
from tests.unit.manifests import module_config


class Shipped(Event):
    publisher = "shipping"
    order_id: int


class Delivered(Event):
    publisher = "shipping"
    order_id: int


class Improvised(Event):
    """Declared in a test file with no publisher: no contract declares it."""

    order_id: int


def on_event(event: Event) -> None: ...


def registry_with(*subscriptions: tuple[type[Event], str], handler: Callable[..., None] = on_event) -> Registry:
    registry = Registry()
    for event, module in subscriptions:
        registry.add_subscriber(Subscriber(event, handler, module, f"modules.{module}.handlers.on_event", False))
    return registry


# --- E008 ------------------------------------------------------------------------------------------
def test_subscribing_to_an_event_no_contract_declares_is_e008() -> None:
    (error,) = event_errors([module_config("crm")], registry_with((Improvised, "crm")))
    assert error.id == "seams.E008"
    assert error.msg == (
        f"modules.crm.handlers.on_event subscribes to {__name__}.Improvised, an event that no contract declares."
    )
    assert error.hint == "Declare events in contracts/<publishing module>.py so that every module sees the same type."


def test_subscribing_to_a_declared_event_is_fine() -> None:
    assert event_errors([module_config("crm")], registry_with((Shipped, "crm"))) == []


# --- E010 ------------------------------------------------------------------------------------------
def test_a_subscriber_missing_from_handles_is_e010() -> None:
    crm = module_config("crm", handles=[Shipped])
    (error,) = event_errors([crm], registry_with((Shipped, "crm"), (Delivered, "crm")))
    assert error.id == "seams.E010"
    assert error.msg == "Module 'crm' has a @subscribe handler for shipping.Delivered, which 'handles' does not list."
    assert error.hint == (
        "Make 'handles' in modules/crm/apps.py (CrmConfig) match the module's @subscribe handlers, or remove it to derive it."
    )


def test_handles_listing_an_event_without_subscriber_is_e010() -> None:
    crm = module_config("crm", handles=[Shipped, Delivered])
    (error,) = event_errors([crm], registry_with((Shipped, "crm"), (Delivered, "billing")))
    assert error.id == "seams.E010"
    assert error.msg == "Module 'crm' lists shipping.Delivered in 'handles' but no @subscribe handler takes it."


def test_matching_or_absent_handles_is_fine() -> None:
    registry = registry_with((Shipped, "crm"), (Delivered, "crm"))
    assert event_errors([module_config("crm", handles=[Delivered, Shipped])], registry) == []
    assert event_errors([module_config("crm")], registry) == []  # derived, nothing to compare


# --- E012 ------------------------------------------------------------------------------------------
def test_publishing_an_event_of_another_module_is_e012() -> None:
    (error,) = event_errors([module_config("crm", publishes=[Shipped])], Registry())
    assert error.id == "seams.E012"
    assert (
        error.msg
        == "Module 'crm' lists shipping.Shipped in 'publishes', but that event is declared for module 'shipping'."
    )
    assert error.hint == "A module publishes only events declared in contracts/crm.py."


def test_publishing_something_that_is_not_an_event_is_e012() -> None:
    (error,) = event_errors([module_config("crm", publishes=[dict])], Registry())  # type: ignore[list-item]
    assert error.id == "seams.E012"
    assert "lists <class 'dict'> in 'publishes'" in error.msg


def test_publishing_its_own_events_is_fine() -> None:
    assert event_errors([module_config("shipping", publishes=[Shipped, Delivered])], Registry()) == []
