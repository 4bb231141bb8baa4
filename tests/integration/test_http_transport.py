"""The HTTP transport against a REAL server: gunicorn running app.wsgi on a loopback port, with its
own database (SQLite files in a temporary directory, or a throwaway PostgreSQL database when
DATABASE_URL is set). The test process binds catalog and inventory to it with SEAMS_BINDINGS and
calls them through ``use()``, exactly as a module would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.test import Client, override_settings

from contracts.catalog import Catalog, ProductDTO, ProductNotFound
from contracts.inventory import Inventory, StockLevel, StockNotFound
from contracts.kernel import ServiceUnavailable, use
from extraction.http import TransportUnavailable
from extraction.http.breaker import OPEN, reset_breakers
from extraction.http.client import channel_of
from tests.support.identity import TEST_CALLERS, service_headers
from tests.support.processes import free_port, gunicorn, migrated_database, project_env
from tests.support.tokens import customer, staff
from tests.support.tracing import TRACE_ID, in_trace, read_spans, wait_for_spans

pytestmark = pytest.mark.e2e

ORDERS = "modules.orders.services"  # a caller that declares Catalog in its manifest


@pytest.fixture(scope="module")
def server_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A migrated project database and the environment of a server process using it."""
    tmp = tmp_path_factory.mktemp("http-transport")
    with migrated_database(tmp) as db_env:
        env = project_env({**db_env, "DEBUG": "false", "SEAMS_TRACE_FILE": str(tmp / "spans.jsonl"),
                           "SEAMS_INTERNAL": "all"})  # the test process calls in
        yield env


@pytest.fixture(scope="module")
def service(server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running server with one product and its stock; yields its base URL."""
    with gunicorn(server_env, log=tmp_path_factory.mktemp("logs") / "gunicorn.log") as base:
        with httpx.Client(base_url=base, timeout=30) as http:
            created = http.post("/api/catalog/products/", json={"sku": "LAMP-1", "name": "Desk lamp", "price_cents": 2500}, headers=staff())
            assert created.status_code == 201, created.text
            assert http.put("/api/inventory/stock/LAMP-1", json={"quantity": 4}, headers=staff()).status_code == 200
        yield base


def bind(**urls: str) -> override_settings:
    return override_settings(
        SEAMS_BINDINGS={
            label: {"TRANSPORT": "http", "URL": url, "TIMEOUT": "10", "BREAKER_THRESHOLD": "2", "BREAKER_COOLDOWN": "300",
                    "CALLER": TEST_CALLERS[label]}
            for label, url in urls.items()
        }
    )


@pytest.fixture(autouse=True)
def fresh_breakers() -> Iterator[None]:
    reset_breakers()
    yield
    reset_breakers()


def test_a_bound_contract_is_served_by_the_remote_process(service: str) -> None:
    with bind(catalog=service):
        catalog = use(Catalog, consumer=ORDERS)
        assert type(catalog).__name__ == "HttpCatalog"
        product = catalog.get_product("LAMP-1")
        assert product == ProductDTO(sku="LAMP-1", name="Desk lamp", price_cents=2500)
        assert isinstance(product, ProductDTO)
        assert catalog.get_products(["LAMP-1", "LAMP-1"]) == [product, product]


def test_inventory_is_served_over_http_too(service: str) -> None:
    with bind(catalog=service, inventory=service):
        stock = use(Inventory, consumer=__name__).get_stock("LAMP-1")
        assert stock == StockLevel(sku="LAMP-1", on_hand=4, reserved=0, available=4)
        with pytest.raises(StockNotFound):
            use(Inventory, consumer=__name__).get_stock("NOPE")


def test_a_contract_error_raised_remotely_is_caught_as_the_same_class(service: str) -> None:
    with bind(catalog=service):
        with pytest.raises(ProductNotFound) as caught:
            use(Catalog, consumer=ORDERS).get_products(["LAMP-1", "GHOST"])
    assert caught.value.message == "No product has SKU 'GHOST'."
    assert caught.value.details == {"sku": "GHOST"}


def test_the_callers_trace_continues_on_the_server(service: str, server_env: dict[str, str], spans: object) -> None:
    with bind(catalog=service), in_trace():
        assert use(Catalog, consumer=ORDERS).get_product("LAMP-1").sku == "LAMP-1"
    (client,) = [s for s in spans.get_finished_spans() if s.name == "catalog.Catalog.get_product"]
    assert client.kind.name == "CLIENT" and client.context.trace_id == int(TRACE_ID, 16)

    def served(found: list[dict]) -> list[dict]:
        return [s for s in found if s["name"] == "catalog.Catalog.get_product" and s["trace_id"] == TRACE_ID]

    (server,) = served(wait_for_spans(Path(server_env["SEAMS_TRACE_FILE"]), served))
    assert server["kind"] == "SERVER" and server["attributes"]["seams.outcome"] == "ok"
    # Its parent is the caller's side of the call: the client span, or the httpx request under it.
    ours = {f"{s.context.span_id:016x}" for s in spans.get_finished_spans() if s.context.trace_id == int(TRACE_ID, 16)}
    server_side = {s["span_id"]: s for s in read_spans(Path(server_env["SEAMS_TRACE_FILE"]))}
    parent = server["parent_id"]
    while parent in server_side:  # Django's request span, on the server, sits in between
        parent = server_side[parent]["parent_id"]
    assert parent in ours


def test_the_server_publishes_each_contracts_openapi(service: str) -> None:
    assert httpx.get(f"{service}/internal/catalog/v1/catalog/openapi.json").status_code == 401  # a token is needed
    schema = httpx.get(f"{service}/internal/catalog/v1/catalog/openapi.json", headers=service_headers("orders", "catalog")).json()
    assert "/internal/catalog/v1/catalog/get_products" in schema["paths"]
    assert httpx.get(f"{service}/health/live").status_code == 200


def test_a_dead_service_raises_service_unavailable_then_fails_fast(server_env: dict[str, str], tmp_path: Path) -> None:
    with gunicorn(server_env, log=tmp_path / "doomed.log") as base, bind(catalog=base):
        catalog = use(Catalog, consumer=ORDERS)
        assert catalog.get_product("LAMP-1").sku == "LAMP-1"
    # The server is gone (terminated with the block); the binding stays.
    with bind(catalog=base):
        catalog = use(Catalog, consumer=ORDERS)
        breaker = channel_of(catalog).breaker
        with pytest.raises(TransportUnavailable) as first:
            catalog.get_product("LAMP-1")
        assert isinstance(first.value, ServiceUnavailable)
        assert f"the 'catalog' service at {base}" in first.value.message
        assert breaker.state == OPEN  # a query retries, so one call reaches the threshold of 2
        with pytest.raises(TransportUnavailable, match="circuit breaker is open") as fast:
            catalog.get_product("LAMP-1")
        assert fast.value.details["circuit"] == "open"
        with pytest.raises(ServiceUnavailable):
            catalog.get_products(["LAMP-1"])


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_the_public_api_answers_503_when_a_bound_service_is_down(caplog: pytest.LogCaptureFixture) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with bind(catalog=dead):
        response = Client().post(
            "/api/orders/",
            data={"lines": [{"sku": "LAMP-1", "quantity": 1}]},
            content_type="application/json",
            headers=customer(),
        )
    assert response.status_code == 503, response.content
    body = response.json()
    assert body["code"] == "seams.ServiceUnavailable" and set(body) == {"detail", "code", "error_id"}
    assert b"127.0.0.1" not in response.content and b"refused" not in response.content
    assert response["Retry-After"]
    # What the transport knows is in the log, under the id the client got.
    (record,) = [r for r in caplog.records if getattr(r, "error_id", None) == body["error_id"]]
    assert f"catalog.Catalog.get_products is unavailable: the 'catalog' service at {dead}" in record.getMessage()
    # The breaker is open now (threshold 2, a query retries): the fast failure is just as generic.
    with bind(catalog=dead):
        fast = Client().post(
            "/api/orders/",
            data={"lines": [{"sku": "LAMP-1", "quantity": 1}]},
            content_type="application/json",
            headers=customer(),
        )
    assert fast.status_code == 503 and set(fast.json()) == {"detail", "code", "error_id"}
    assert b"circuit" not in fast.content and b"127.0.0.1" not in fast.content and fast["Retry-After"]
    (record,) = [r for r in caplog.records if getattr(r, "error_id", None) == fast.json()["error_id"]]
    assert "the circuit breaker is open" in record.getMessage()
