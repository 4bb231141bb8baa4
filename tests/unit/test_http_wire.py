"""extraction/http/wire.py: paths and request bodies generated from contract declarations."""

import datetime
import decimal
import enum
import inspect
import uuid
from typing import ClassVar, Literal

import pydantic
import pytest

from contracts.catalog import Catalog, ProductDTO
from contracts.kernel import Contract, Schema, query
from extraction.http.wire import (
    arguments_of,
    body_model,
    contract_prefix,
    contract_slug,
    contract_version,
    method_path,
    return_adapter,
)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Line(Schema):
    sku: str
    quantity: int
    price: decimal.Decimal


class StockLedger(Contract, module="ledger"):
    """A contract using every kind of type that may cross the network."""

    version: ClassVar[int] = 3

    @query
    def entries(self, sku: str, *, since: datetime.datetime | None = None, limit: int = 50) -> list[Line]: ...

    def record(
        self,
        line: Line,
        tags: set[str],
        by_colour: dict[Colour, int],
        ids: dict[uuid.UUID, tuple[int, str]],
        mode: Literal["add", "remove"] = "add",
        idempotency_key: str | None = None,
    ) -> uuid.UUID: ...

    def purge(self) -> None: ...


def test_paths_are_versioned_and_named_after_the_module_and_contract() -> None:
    assert contract_slug(StockLedger) == "stock_ledger"
    assert contract_version(StockLedger) == 3
    assert contract_prefix(StockLedger) == "internal/ledger/v3/stock_ledger"
    assert method_path(Catalog, "get_product") == "/internal/catalog/v1/catalog/get_product"


def test_a_contract_without_version_is_v1() -> None:
    assert contract_version(Catalog) == 1


def test_the_body_model_has_one_field_per_parameter_with_its_type_and_default() -> None:
    model = body_model(StockLedger, "entries")
    assert model.__name__ == "StockLedgerEntriesArguments"
    fields = model.model_fields
    assert list(fields) == ["sku", "since", "limit"]
    assert fields["sku"].annotation is str and fields["sku"].is_required()
    assert fields["since"].annotation == datetime.datetime | None and fields["since"].default is None
    assert fields["limit"].default == 50
    assert body_model(StockLedger, "entries") is model  # generated once


def test_the_body_model_of_a_method_without_parameters_is_empty() -> None:
    assert body_model(StockLedger, "purge").model_fields == {}
    assert body_model(StockLedger, "purge").model_validate_json(b"{}", strict=True) is not None


def test_the_body_model_refuses_unknown_and_missing_members() -> None:
    model = body_model(Catalog, "get_product")
    with pytest.raises(pydantic.ValidationError, match="Extra inputs are not permitted"):
        model.model_validate_json(b'{"sku": "A", "skew": 1}', strict=True)
    with pytest.raises(pydantic.ValidationError, match="Field required"):
        model.model_validate_json(b"{}", strict=True)


def test_strict_json_never_takes_a_string_for_a_number() -> None:
    model = body_model(StockLedger, "entries")
    with pytest.raises(pydantic.ValidationError):
        model.model_validate_json(b'{"sku": "A", "limit": "5"}', strict=True)
    with pytest.raises(pydantic.ValidationError):
        body_model(Catalog, "get_product").model_validate_json(b'{"sku": 5}', strict=True)


def test_every_crossing_type_survives_the_round_trip_through_json() -> None:
    model = body_model(StockLedger, "record")
    key = uuid.uuid4()
    sent = model.model_validate(
        {
            "line": Line(sku="A", quantity=2, price=decimal.Decimal("9.90")),
            "tags": {"x", "y"},
            "by_colour": {Colour.RED: 1},
            "ids": {key: (1, "one")},
            "idempotency_key": "k-1",
        },
        strict=True,
    )
    received = model.model_validate_json(sent.model_dump_json(), strict=True)
    assert received == sent
    arguments = arguments_of(received)
    assert isinstance(arguments["line"], Line)  # a Schema stays a Schema, unlike model_dump()
    assert arguments["line"].price == decimal.Decimal("9.90")
    assert arguments["ids"] == {key: (1, "one")}
    assert arguments["mode"] == "add"


def test_the_return_adapter_rebuilds_the_declared_type() -> None:
    adapter = return_adapter(Catalog, "get_products")
    products = adapter.validate_json(b'[{"sku": "A", "name": "Lamp", "price_cents": 100}]', strict=True)
    assert products == [ProductDTO(sku="A", name="Lamp", price_cents=100)]
    assert isinstance(products[0], ProductDTO)
    assert return_adapter(StockLedger, "purge").validate_json(b"null") is None


def test_the_generated_model_keeps_the_declared_signature_order() -> None:
    parameters = [p for p in inspect.signature(StockLedger.record).parameters if p != "self"]
    assert list(body_model(StockLedger, "record").model_fields) == parameters
