"""contracts/kernel/events.py: event naming, versions, ordering keys and the envelope's wire form."""

import datetime
import decimal
import json
import uuid
from typing import ClassVar

import pydantic
import pytest

from contracts.kernel import Envelope, Event, Schema
from contracts.kernel.events import declared_events
from tests.unit.probe.events import ProbeHappened


class Amount(Schema):
    value: decimal.Decimal
    currency: str


class PaymentReceived(Event):
    """Declared in a test file: its owner is the Python module, and no contract declares it."""

    version: ClassVar[int] = 2
    key_field: ClassVar[str] = "payment_id"
    payment_id: uuid.UUID
    amount: Amount
    received_on: datetime.date


def test_an_event_in_a_contract_file_is_named_after_its_module() -> None:
    class_in_contracts = type(
        "StockCounted", (Event,), {"__module__": "contracts.inventory", "__annotations__": {"sku": str}}
    )
    assert class_in_contracts.event_type == "inventory.StockCounted"
    assert class_in_contracts.publisher == "inventory"
    assert class_in_contracts.declared_in_contracts is True
    assert class_in_contracts.version == 1
    assert class_in_contracts.key_field is None


def test_an_explicit_publisher_names_the_event_and_counts_as_declared() -> None:
    assert ProbeHappened.publisher == "probe"
    assert ProbeHappened.event_type == "probe.ProbeHappened"
    assert ProbeHappened.declared_in_contracts is True
    assert declared_events[("probe.ProbeHappened", 1)] is ProbeHappened


def test_an_event_outside_contracts_is_owned_by_its_python_module_and_undeclared() -> None:
    assert PaymentReceived.publisher == __name__
    assert PaymentReceived.event_type == f"{__name__}.PaymentReceived"
    assert PaymentReceived.declared_in_contracts is False
    assert declared_events[(PaymentReceived.event_type, 2)] is PaymentReceived


def test_version_and_type_may_be_set_without_annotations() -> None:
    class Renamed(Event):
        publisher = "probe"
        event_type = "probe.renamed"
        version = 3
        probe_id: int

    assert (Renamed.event_type, Renamed.version, Renamed.publisher) == ("probe.renamed", 3, "probe")
    assert list(Renamed.model_fields) == ["probe_id"]
    assert declared_events[("probe.renamed", 3)] is Renamed


def test_key_field_must_name_a_field() -> None:
    with pytest.raises(TypeError, match=r"Broken\.key_field names 'order_id', which is not a field"):

        class Broken(Event):
            key_field: ClassVar[str] = "order_id"
            id: int


def test_event_key_is_the_key_field_as_text() -> None:
    payment_id = uuid.uuid4()
    event = PaymentReceived(
        payment_id=payment_id,
        amount=Amount(value=decimal.Decimal("9.99"), currency="EUR"),
        received_on=datetime.date(2025, 5, 1),
    )
    assert event.event_key() == str(payment_id)
    assert ProbeHappened(probe_id=7).event_key() == "7"


def test_an_event_without_key_field_has_no_key() -> None:
    class Pinged(Event):
        publisher = "probe"
        at: int

    assert Pinged(at=1).event_key() is None


def test_events_are_immutable() -> None:
    event = ProbeHappened(probe_id=1)
    with pytest.raises(pydantic.ValidationError):
        event.probe_id = 2  # type: ignore[misc]


def test_the_envelope_carries_identity_and_metadata() -> None:
    event = ProbeHappened(probe_id=5, note="hi")
    envelope = Envelope(event=event, key=event.event_key(), headers={"trace_id": "t-1"})
    assert isinstance(envelope.id, uuid.UUID)
    assert envelope.occurred_at.tzinfo is not None
    assert (envelope.type, envelope.version, envelope.publisher) == ("probe.ProbeHappened", 1, "probe")
    assert Envelope(event=event).id != envelope.id


def test_a_fresh_envelope_is_the_one_its_constructor_builds() -> None:
    """``Envelope.fresh`` (what ``publish`` builds, without the dataclass's ``__init__``): the same
    fields, equal to the constructor's instance, frozen and hashable alike."""
    import dataclasses

    event = ProbeHappened(probe_id=5, note="hi")
    before = datetime.datetime.now(datetime.UTC)
    fresh = Envelope.fresh(event, event.event_key(), {"publisher": "probe"})
    assert before <= fresh.occurred_at <= datetime.datetime.now(datetime.UTC)
    assert isinstance(fresh.id, uuid.UUID) and fresh.id != Envelope.fresh(event, None, {}).id
    built = Envelope(event=event, id=fresh.id, occurred_at=fresh.occurred_at, key="5", headers={"publisher": "probe"})
    assert fresh == built and vars(fresh) == vars(built)
    assert [f.name for f in dataclasses.fields(fresh)] == list(vars(fresh))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fresh.key = "6"  # type: ignore[misc]
    assert dataclasses.replace(fresh, key="6").key == "6"


def test_envelope_to_dict_is_json_able_and_complete() -> None:
    payment_id = uuid.uuid4()
    occurred = datetime.datetime(2025, 5, 1, 12, 30, tzinfo=datetime.UTC)
    event = PaymentReceived(
        payment_id=payment_id,
        amount=Amount(value=decimal.Decimal("9.99"), currency="EUR"),
        received_on=datetime.date(2025, 5, 1),
    )
    envelope = Envelope(event=event, occurred_at=occurred, key=event.event_key(), headers={"trace_id": "abc"})
    wire = json.loads(json.dumps(envelope.to_dict()))
    assert wire == {
        "id": str(envelope.id),
        "type": PaymentReceived.event_type,
        "version": 2,
        "key": str(payment_id),
        "occurred_at": "2025-05-01T12:30:00+00:00",
        "headers": {"trace_id": "abc"},
        "payload": {
            "payment_id": str(payment_id),
            "amount": {"value": "9.99", "currency": "EUR"},
            "received_on": "2025-05-01",
        },
    }
    assert PaymentReceived.model_validate(wire["payload"]) == event  # the payload rebuilds the event
