"""Contract evolution: what ``contracts check`` calls breaking and what it lets through.

Each case declares an old and a new version of a contract (or DTO, or event payload) and compares
their descriptions, as the snapshot and the code would be compared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pydantic import Field

from contracts.kernel import Contract, Schema, query
from contracts.kernel.evolution import compare, describe_published_language
from contracts.kernel.evolution.compare import accepts_all, schema_changes
from contracts.kernel.evolution.describe import describe_contract, schema_of


def language(contract: type[Contract] | None = None, **extra: Any) -> dict[str, Any]:
    contracts = {"shop.Pricing": describe_contract(contract)} if contract else {}
    return {"format": 1, "contracts": contracts, "events": extra.get("events", {}), "errors": extra.get("errors", {})}


class Price(Schema):
    sku: str
    cents: int


class PriceWithCurrency(Schema):
    sku: str
    cents: int
    currency: str = "EUR"


class PriceNeedsCurrency(Schema):
    sku: str
    cents: int
    currency: str


class PriceMaybeCents(Schema):
    sku: str
    cents: int | None


class PriceWithoutCents(Schema):
    sku: str


class V1(Contract, module="shop"):
    @query
    def price(self, sku: str) -> Price: ...


class V1AddsMethod(Contract, module="shop"):
    @query
    def price(self, sku: str) -> Price: ...

    def reprice(self, sku: str, cents: int) -> Price: ...


class V1NewRequiredParameter(Contract, module="shop"):
    @query
    def price(self, sku: str, region: str) -> Price: ...


class V1NewOptionalParameter(Contract, module="shop"):
    @query
    def price(self, sku: str, region: str = "eu") -> Price: ...


class V1NarrowedParameter(Contract, module="shop"):
    @query
    def price(self, sku: Annotated[str, Field(max_length=8)]) -> Price: ...


class V1WidenedParameter(Contract, module="shop"):
    @query
    def price(self, sku: str | None) -> Price: ...


class V1BecameCommand(Contract, module="shop"):
    def price(self, sku: str) -> Price: ...


class V1RenamedParameter(Contract, module="shop"):
    @query
    def price(self, code: str) -> Price: ...


def result_contract(dto: type[Schema]) -> type[Contract]:
    def price(self: Contract, sku: str) -> Schema: ...

    price.__annotations__["return"] = dto  # a real class, not the string that postponed annotations make
    return type("Pricing", (Contract,), {"price": query(price), "__module__": __name__}, module="shop")


def changes(old: type[Contract], new: type[Contract]) -> list[tuple[str, str, bool]]:
    return [(c.where, c.what, c.breaking) for c in compare(language(old), language(new))]


def test_the_same_contract_has_no_change() -> None:
    assert changes(V1, V1) == []


def test_a_removed_method_breaks_and_a_new_one_is_additive() -> None:
    assert changes(V1AddsMethod, V1) == [("shop.Pricing.reprice", "method removed", True)]
    assert changes(V1, V1AddsMethod) == [("shop.Pricing.reprice", "method added", False)]


def test_parameters_new_required_breaks_new_optional_is_additive_removed_breaks() -> None:
    assert changes(V1, V1NewRequiredParameter) == [("shop.Pricing.price(region)", "new required parameter", True)]
    assert changes(V1, V1NewOptionalParameter) == [("shop.Pricing.price(region)", "new optional parameter", False)]
    assert changes(V1NewOptionalParameter, V1) == [("shop.Pricing.price(region)", "parameter removed", True)]
    assert {c[1] for c in changes(V1, V1RenamedParameter)} == {"parameter removed", "new required parameter"}


def test_a_parameter_narrowed_breaks_and_widened_is_additive() -> None:
    [(where, what, breaking)] = changes(V1, V1NarrowedParameter)
    assert (where, breaking) == ("shop.Pricing.price(sku)", True) and what.startswith("type narrowed")
    [(where, what, breaking)] = changes(V1, V1WidenedParameter)
    assert (where, breaking) == ("shop.Pricing.price(sku)", False) and what.startswith("type widened")


def test_a_query_made_a_command_breaks() -> None:
    assert changes(V1, V1BecameCommand) == [("shop.Pricing.price", "query became a command (transports retry queries only)", True)]


@pytest.mark.parametrize(
    ("new_dto", "expected"),
    [
        (PriceWithCurrency, [("shop.Pricing.price -> result.currency", "new optional field", False)]),
        (PriceNeedsCurrency, [("shop.Pricing.price -> result.currency", "new required field", True)]),
        (PriceWithoutCents, [("shop.Pricing.price -> result.cents", "field removed", True)]),
    ],
)
def test_result_fields(new_dto: type[Schema], expected: list[tuple[str, str, bool]]) -> None:
    assert changes(result_contract(Price), result_contract(new_dto)) == expected


def test_a_result_widened_breaks_and_narrowed_is_additive() -> None:
    [(where, what, breaking)] = changes(result_contract(Price), result_contract(PriceMaybeCents))
    assert where == "shop.Pricing.price -> result.cents" and breaking and "widened" in what
    [(where, what, breaking)] = changes(result_contract(PriceMaybeCents), result_contract(Price))
    assert not breaking and "narrowed" in what


def test_type_relations_that_pydantic_schemas_express() -> None:
    assert accepts_all(schema_of(int | None), schema_of(int))
    assert not accepts_all(schema_of(int), schema_of(int | None))
    assert accepts_all(schema_of(float), schema_of(int))
    assert not accepts_all(schema_of(int), schema_of(str))
    assert accepts_all(schema_of(Literal["a", "b"]), schema_of(Literal["a"]))
    assert not accepts_all(schema_of(Literal["a"]), schema_of(Literal["a", "b"]))
    assert accepts_all(schema_of(Annotated[int, Field(ge=0)]), schema_of(Annotated[int, Field(ge=1)]))
    assert not accepts_all(schema_of(Annotated[int, Field(ge=1)]), schema_of(Annotated[int, Field(ge=0)]))
    assert accepts_all(schema_of(list[int | None]), schema_of(list[int]))
    assert [c.what for c in schema_changes(schema_of(list[int]), schema_of(list[str]), "in", "x")] == [
        "type changed from integer to string"
    ]


def test_events_key_field_payload_and_removed_versions() -> None:
    def event(key: str, payload: type[Schema]) -> dict[str, Any]:
        return {"type": "shop.Priced", "version": 1, "key_field": key, "payload": schema_of(payload)}

    old = language(events={"shop.Priced@v1": event("sku", Price)})
    assert [(c.what, c.breaking) for c in compare(old, language(events={"shop.Priced@v1": event("cents", Price)}))] == [
        ("key field changed from 'sku' to 'cents' (per-key ordering would split)", True)
    ]
    assert [(c.where, c.breaking) for c in compare(old, language(events={"shop.Priced@v1": event("sku", PriceWithoutCents)}))] == [
        ("shop.Priced@v1.cents", True)
    ]
    assert [c.breaking for c in compare(old, language())] == [True]
    assert [c.breaking for c in compare(language(), old)] == [False]


def test_errors_removed_or_of_another_kind_break() -> None:
    old = language(errors={"shop.PriceMissing": "NotFound"})
    assert [(c.what, c.breaking) for c in compare(old, language(errors={"shop.PriceMissing": "Conflict"}))] == [
        ("error kind changed from NotFound to Conflict", True)
    ]
    assert [c.breaking for c in compare(old, language())] == [True]
    assert [c.breaking for c in compare(language(), old)] == [False]


def test_the_shop_describes_its_contracts_events_and_errors() -> None:
    described = describe_published_language()
    assert {"catalog.Catalog", "inventory.Inventory", "orders.Orders"} <= described["contracts"].keys()
    assert "orders.OrderPlaced@v1" in described["events"] and described["errors"]["catalog.ProductNotFound"] == "NotFound"
    assert described["contracts"]["catalog.Catalog"]["methods"]["get_product"]["kind"] == "query"


def test_the_committed_snapshot_matches_the_code() -> None:
    call_command("contracts", "check")  # make test runs it too; this says so from pytest


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("contracts", *args, stdout=out)
    return out.getvalue()


def test_check_fails_on_a_breaking_change_naming_it_and_the_fix(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.json"
    run("snapshot", "--file", str(snapshot))
    recorded = json.loads(snapshot.read_text())
    # As if the code had dropped a method the snapshot still has: the code is the new side.
    recorded["contracts"]["catalog.Catalog"]["methods"]["get_price"] = recorded["contracts"]["catalog.Catalog"]["methods"]["get_product"]
    snapshot.write_text(json.dumps(recorded))
    with pytest.raises(CommandError) as caught:
        run("check", "--file", str(snapshot))
    message = str(caught.value)
    assert "catalog.Catalog.get_price: method removed  [breaking]" in message
    assert "new contract version" in message and "--accept-breaking" in message
    with pytest.raises(CommandError, match="refusing to record"):
        run("snapshot", "--file", str(snapshot))
    assert "get_price" in snapshot.read_text()
    run("snapshot", "--file", str(snapshot), "--accept-breaking")
    assert "get_price" not in snapshot.read_text()
    assert "matches" in run("check", "--file", str(snapshot))


def test_check_passes_additive_changes_and_snapshot_records_them(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.json"
    run("snapshot", "--file", str(snapshot))
    recorded = json.loads(snapshot.read_text())
    del recorded["contracts"]["catalog.Catalog"]["methods"]["get_products"]  # the code has one method more
    snapshot.write_text(json.dumps(recorded))
    out = run("check", "--file", str(snapshot))
    assert "catalog.Catalog.get_products: method added" in out and "manage.py contracts snapshot" in out
    run("snapshot", "--file", str(snapshot))
    assert "matches" in run("check", "--file", str(snapshot))


def test_a_missing_or_foreign_snapshot_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="does not exist. Run: manage.py contracts snapshot"):
        run("check", "--file", str(tmp_path / "none.json"))
    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(CommandError, match="not a Seams contracts snapshot"):
        run("check", "--file", str(tmp_path / "other.json"))
