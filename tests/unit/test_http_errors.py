"""Contract errors round-trip through the real server and client: the caller catches the same class.

The client's requests are handed to Django's test client by an ``httpx.MockTransport`` (a real
httpx transport, no socket), so the project's URLs, middleware and generated endpoints answer; the
implementation behind the endpoint is a fake that raises on request.
"""

from collections.abc import Iterator

import httpx
import pytest
from django.test import Client

from contracts.catalog import Catalog, ProductDTO, ProductNotFound
from contracts.inventory import StockNotFound
from contracts.kernel import Conflict, ContractError, Invalid, NotFound, ServiceUnavailable
from contracts.kernel.testing import override_contract
from contracts.orders import OrderNotFound
from extraction.http import CircuitBreaker, HttpTransport, TransportUnavailable
from extraction.http.client import rebuild_error
from extraction.http.wire import IDEMPOTENCY_HEADER


def django_app(request: httpx.Request) -> httpx.Response:
    """Serve an httpx request with the project's Django application (through its test client,
    which keeps the test's database connections as they are)."""
    headers = {name: request.headers[name] for name in ("traceparent", "tracestate", IDEMPOTENCY_HEADER, "Authorization") if name in request.headers}
    answer = Client().generic(
        request.method, request.url.path, data=request.content, content_type=request.headers["content-type"], headers=headers
    )
    return httpx.Response(answer.status_code, headers=dict(answer.items()), content=answer.content)


class QuotaExceeded(Conflict):
    """A contract error whose constructor takes other arguments than (message, **details)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"The quota of {limit} is used up.", limit=limit)


class RaisingCatalog(Catalog):
    def __init__(self) -> None:
        self.error: Exception | None = None

    def get_product(self, sku: str) -> ProductDTO:
        assert self.error is not None
        raise self.error

    def get_products(self, skus: list[str]) -> list[ProductDTO]:
        return []


@pytest.fixture
def raising() -> Iterator[RaisingCatalog]:
    with override_contract(Catalog, RaisingCatalog()) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def remote_catalog() -> Catalog:
    client = httpx.Client(base_url="http://testserver", transport=httpx.MockTransport(django_app))
    return HttpTransport(contract=Catalog, binding={"URL": "http://testserver", "CALLER": "orders"}, client=client, breaker=CircuitBreaker())  # type: ignore[return-value]


ERRORS = [
    ProductNotFound("No product has SKU 'X'.", sku="X"),
    StockNotFound("No stock for 'X'.", sku="X"),
    OrderNotFound("No order has id 7.", order_id=7),
    NotFound("Gone."),
    Conflict("Duplicate SKU.", sku="X", existing=[1, 2]),
    Invalid("Quantity must be at least 1.", field=["lines", 0, "quantity"]),
    Invalid("Bad."),
    ServiceUnavailable("The payment provider is down.", provider="acme"),
    TransportUnavailable("A service further down is unreachable.", module="x", url="http://x"),
    ContractError("Some other outcome.", why="because"),
    QuotaExceeded(3),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_each_contract_error_comes_back_as_the_same_class(
    raising: RaisingCatalog, remote_catalog: Catalog, error: ContractError
) -> None:
    raising.error = error
    with pytest.raises(ContractError) as caught:
        remote_catalog.get_product("X")
    rebuilt = caught.value
    assert type(rebuilt) is type(error)
    assert rebuilt is not error
    assert (rebuilt.code, rebuilt.message, rebuilt.details) == (error.code, error.message, error.details)
    assert str(rebuilt) == str(error)
    if isinstance(error, Invalid):
        assert rebuilt.field == error.field  # type: ignore[attr-defined]


def test_an_unknown_code_is_rebuilt_as_its_kind_keeping_the_code() -> None:
    body = {"code": "billing.CardDeclined", "message": "Declined.", "details": {"card": "x"}, "kind": "seams.Conflict"}
    rebuilt = rebuild_error(body, 400)
    assert type(rebuilt) is Conflict
    assert (rebuilt.code, rebuilt.message, rebuilt.details) == ("billing.CardDeclined", "Declined.", {"card": "x"})  # type: ignore[attr-defined]


def test_without_a_kind_the_status_says_which_kind() -> None:
    assert type(rebuild_error({"code": "billing.Gone", "message": "m"}, 404)) is NotFound
    assert type(rebuild_error({"code": "billing.Busy", "message": "m"}, 409)) is Conflict
    assert type(rebuild_error({"code": "billing.Odd", "message": "m"}, 418)) is ContractError


def test_a_successful_call_round_trips_through_the_real_server(remote_catalog: Catalog) -> None:
    class Fine(Catalog):
        def get_product(self, sku: str) -> ProductDTO:
            return ProductDTO(sku=sku, name="Lamp", price_cents=9)

        def get_products(self, skus: list[str]) -> list[ProductDTO]:
            return [self.get_product(s) for s in skus]

    with override_contract(Catalog, Fine()):
        assert remote_catalog.get_products(["A", "B"]) == [
            ProductDTO(sku="A", name="Lamp", price_cents=9),
            ProductDTO(sku="B", name="Lamp", price_cents=9),
        ]
