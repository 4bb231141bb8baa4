"""extraction/http/server.py and urls.py: the internal endpoints generated from contracts.

The installed modules' contracts are mounted by app/urls.py; implementations are replaced with fakes
(subclasses of the contract) through the registry, so no database is involved.
"""

import datetime
import decimal
import json
import uuid
from collections.abc import Iterator
from typing import ClassVar

import pytest
from django.test import Client
from django.test.utils import override_settings
from ninja.testing import TestClient

from contracts.catalog import Catalog, ProductDTO, ProductNotFound
from contracts.kernel import Contract, query
from contracts.kernel.testing import override_contract
from contracts.orders import Orders
from extraction.http import build_api
from extraction.http.wire import VIOLATION_CODE
from tests.support.identity import service_headers
from tests.support.tracing import TRACE_ID, TRACEPARENT, current_trace

GET_PRODUCT = "/internal/catalog/v1/catalog/get_product"
GET_PRODUCTS = "/internal/catalog/v1/catalog/get_products"


class FakeCatalog(Catalog):
    def __init__(self) -> None:
        self.traces: list[str | None] = []

    def get_product(self, sku: str) -> ProductDTO:
        self.traces.append(current_trace())
        if sku == "NOPE":
            raise ProductNotFound(f"No product has SKU '{sku}'.", sku=sku)
        return ProductDTO(sku=sku, name="Lamp", price_cents=2500)

    def get_products(self, skus: list[str]) -> list[ProductDTO]:
        return [self.get_product(sku) for sku in skus]


class LeakyCatalog(FakeCatalog):
    def get_product(self, sku: str) -> ProductDTO:
        return {"sku": sku, "name": "Lamp", "price_cents": 1}  # type: ignore[return-value]


@pytest.fixture
def fake() -> Iterator[FakeCatalog]:
    with override_contract(Catalog, FakeCatalog()) as served:
        yield served  # type: ignore[misc]


def post(path: str, body: object, **headers: str) -> object:
    """POST as the orders module of this service (orders consumes Catalog)."""
    headers = {**service_headers("orders", path.split("/")[2]), **headers}
    return Client().post(path, data=json.dumps(body), content_type="application/json", headers=headers)


def get(path: str) -> object:
    return Client().get(path, headers=service_headers("orders", path.split("/")[2]))


def test_a_method_answers_its_declared_return_type_as_json(fake: FakeCatalog) -> None:
    response = post(GET_PRODUCT, {"sku": "KB-1"})
    assert response.status_code == 200
    assert response.json() == {"sku": "KB-1", "name": "Lamp", "price_cents": 2500}
    many = post(GET_PRODUCTS, {"skus": ["A", "B"]})
    assert [p["sku"] for p in many.json()] == ["A", "B"]


def test_a_contract_error_is_an_error_body_with_a_stable_status(fake: FakeCatalog) -> None:
    response = post(GET_PRODUCT, {"sku": "NOPE"})
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "catalog.ProductNotFound",
            "message": "No product has SKU 'NOPE'.",
            "details": {"sku": "NOPE"},
            "kind": "seams.NotFound",
        }
    }


@pytest.mark.parametrize(
    "body",
    [{"sku": 5}, {}, {"sku": "A", "extra": 1}, {"sku": ["A"]}],
    ids=["wrong-type", "missing", "unknown-member", "list-for-str"],
)
def test_a_body_that_does_not_match_the_declaration_is_a_violation(fake: FakeCatalog, body: object) -> None:
    response = post(GET_PRODUCT, body)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == VIOLATION_CODE
    assert fake.traces == []  # the implementation never ran


def test_the_body_is_decoded_once_by_the_strict_decoder(fake: FakeCatalog) -> None:
    # django-ninja's lax check no longer runs first (it answered its own errors, located under
    # ["body", "payload", ...], without saying what was wrong): the strict one answers, in the
    # declaration's terms.
    response = post(GET_PRODUCT, {"sku": 5})
    error = response.json()["error"]
    assert response.status_code == 422 and error["code"] == VIOLATION_CODE
    assert error["message"] == "catalog.Catalog.get_product: the request does not match the declaration: Input should be a valid string"
    assert [e["loc"] for e in error["details"]["errors"]] == [["sku"]]


def test_the_callers_traceparent_is_continued_by_a_server_span(fake: FakeCatalog, spans: object) -> None:
    response = post(GET_PRODUCT, {"sku": "A"}, traceparent=TRACEPARENT)
    assert response.status_code == 200
    assert fake.traces == [TRACE_ID]
    assert current_trace() is None  # the caller's context is gone after the call
    (served,) = [s for s in spans.get_finished_spans() if s.name == "catalog.Catalog.get_product"]
    assert served.kind.name == "SERVER" and served.context.trace_id == int(TRACE_ID, 16)
    assert served.attributes["seams.outcome"] == "ok"


def test_a_contract_error_is_an_answer_not_a_failed_span(fake: FakeCatalog, spans: object) -> None:
    assert post(GET_PRODUCT, {"sku": "NOPE"}, traceparent=TRACEPARENT).status_code == 404
    (served,) = [s for s in spans.get_finished_spans() if s.name == "catalog.Catalog.get_product"]
    assert served.attributes["seams.outcome"] == "contract_error"
    assert served.attributes["seams.error_code"] == "catalog.ProductNotFound"
    assert served.status.status_code.name == "UNSET"


def test_without_a_traceparent_the_server_starts_a_trace(fake: FakeCatalog) -> None:
    post(GET_PRODUCT, {"sku": "A"})
    assert fake.traces[0] and fake.traces[0] != TRACE_ID


def test_an_implementation_breaking_its_declaration_is_a_500_violation_with_an_error_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with override_contract(Catalog, LeakyCatalog()):
        response = post(GET_PRODUCT, {"sku": "A"})
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == VIOLATION_CODE and "get_product answered a value" in error["message"]
    assert b"Lamp" not in response.content  # the offending value stays in the service's log
    (record,) = [r for r in caplog.records if getattr(r, "error_id", None) == error["details"]["error_id"]]
    assert "Lamp" in record.getMessage()


class ExplodingCatalog(FakeCatalog):
    def get_product(self, sku: str) -> ProductDTO:
        raise KeyError("secret-host.internal")


def test_an_implementation_raising_is_a_500_with_only_an_error_id(caplog: pytest.LogCaptureFixture) -> None:
    with override_contract(Catalog, ExplodingCatalog()), override_settings(DEBUG=True):
        response = post(GET_PRODUCT, {"sku": "A"})
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "seams.InternalError" and error["kind"] == "seams.ServiceUnavailable"
    for leak in (b"KeyError", b"secret-host", b"Traceback"):  # not even with DEBUG on (ninja would send the traceback)
        assert leak not in response.content
    (record,) = [r for r in caplog.records if getattr(r, "error_id", None) == error["details"]["error_id"]]
    assert record.exc_info is not None and "secret-host.internal" in str(record.exc_info[1])


def test_each_contract_publishes_its_own_openapi_document() -> None:
    schema = get("/internal/catalog/v1/catalog/openapi.json").json()
    assert schema["info"]["title"] == "catalog.Catalog (internal)"
    assert set(schema["paths"]) == {GET_PRODUCT, GET_PRODUCTS}
    operation = schema["paths"][GET_PRODUCT]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/CatalogGetProductArguments")
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ProductDTO")
    assert "ErrorBody" in schema["components"]["schemas"]
    request = schema["components"]["schemas"]["CatalogGetProductArguments"]
    assert request["required"] == ["sku"] and request["additionalProperties"] is False


def test_every_installed_modules_contracts_are_mounted() -> None:
    for path in ("/internal/inventory/v1/inventory/openapi.json", "/internal/orders/v1/orders/openapi.json"):
        assert get(path).status_code == 200
    assert get("/internal/notifications/v1/notifications/openapi.json").status_code == 404  # provides nothing


# --- a contract that no installed module provides, served by build_api() directly -------------------
class Tally(Contract, module="tally"):
    """Counts things."""

    version: ClassVar[int] = 2

    @query
    def total(self, since: datetime.date, *, step: decimal.Decimal = decimal.Decimal("1")) -> decimal.Decimal: ...

    def reset(self) -> None: ...

    def docs(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, int]: ...


class FakeTally(Tally):
    def total(self, since: datetime.date, *, step: decimal.Decimal = decimal.Decimal("1")) -> decimal.Decimal:
        return step * since.day

    def reset(self) -> None:
        return None

    def docs(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, int]:
        return dict.fromkeys(ids, 1)


@override_settings(SEAMS_ALLOWED_CALLERS={"tally.Tally": ["orders"]})  # what extract_module writes for a service
def test_build_api_serves_any_contract_with_wire_types() -> None:
    key = uuid.uuid4()
    with override_contract(Tally, FakeTally()):
        client = TestClient(build_api(Tally))

        def signed() -> dict[str, str]:  # a token is good for one request
            return service_headers("orders", "tally")

        total = client.post("/total", json={"since": "2024-05-07", "step": "2.5"}, headers=signed())
        assert total.status_code == 200 and total.json() == "17.5"
        assert client.post("/reset", json={}, headers=signed()).json() is None
        assert client.post("/docs", json={"ids": [str(key)]}, headers=signed()).json() == {str(key): 1}
        assert client.post("/total", json={"since": 20240507}, headers=signed()).status_code == 422


def test_build_api_documents_the_version_and_every_method() -> None:
    schema = build_api(Tally).get_openapi_schema(path_prefix="/internal/tally/v2/tally")
    assert schema["info"]["version"] == "2"
    assert set(schema["paths"]) == {f"/internal/tally/v2/tally/{m}" for m in ("total", "reset", "docs")}
    assert schema["paths"]["/internal/tally/v2/tally/total"]["post"]["summary"] == "Tally.total (query)"
    assert schema["components"]["schemas"]["TallyTotalArguments"]["required"] == ["since"]


def test_a_body_that_is_not_json_is_a_400_in_the_protocol_not_ninjas_own_shape(fake: FakeCatalog) -> None:
    response = Client().post(GET_PRODUCT, data=b"9CKo\xff", content_type="application/json", headers=service_headers("orders", "catalog"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == VIOLATION_CODE  # the documented ErrorBody (schemathesis found it)


def test_the_document_links_methods_whose_answer_feeds_another() -> None:
    catalog = build_api(Catalog).get_openapi_schema(path_prefix="/internal/catalog/v1/catalog")
    paths = catalog["paths"]
    batch = paths["/internal/catalog/v1/catalog/get_products"]["post"]["responses"][200]["links"]
    assert batch == {"get_product": {"operationId": "catalog_get_product", "requestBody": {"sku": "$response.body#/0/sku"},
                                     "description": "Catalog.get_product with a value of this answer"}}
    single = paths[GET_PRODUCT]["post"]["responses"][200]["links"]
    assert single["get_products"]["requestBody"] == {"skus": ["$response.body#/sku"]}
    # One method: nothing to chain.
    orders = build_api(Orders).get_openapi_schema(path_prefix="/internal/orders/v1/orders")
    assert all("links" not in item["post"]["responses"][200] for item in orders["paths"].values())
