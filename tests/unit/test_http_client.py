"""extraction/http/client.py with httpx.MockTransport (a real httpx transport answering in-process):
retry policy, error mapping, DTO rebuilding, trace header, breaker integration, configuration."""

import json
import re

import httpx
import pytest
from django.test import override_settings

from contracts.catalog import Catalog, ProductDTO, ProductNotFound
from contracts.kernel import ConfigurationError, Contract, ContractViolation, ServiceUnavailable, query, use
from extraction.http import CircuitBreaker, HttpTransport, TransportUnavailable
from extraction.http.breaker import OPEN
from extraction.http.client import HttpChannel, channel_of, shared_client
from extraction.http.wire import IDEMPOTENCY_HEADER
from extraction.identity import bearer, verify
from tests.support.tracing import TRACE_ID, current_trace, in_trace, trace_of

URL = "http://catalog.test:8000"
PRODUCT = {"sku": "A", "name": "Lamp", "price_cents": 100}


class Stock(Contract, module="stock"):
    @query
    def level(self, sku: str) -> int: ...

    def reserve(self, sku: str, quantity: int) -> int:
        """A command without an idempotency key: never retried."""
        ...

    def release(self, sku: str, quantity: int, idempotency_key: str | None = None) -> int:
        """A command that may carry an idempotency key: retried only when it does."""
        ...


class Server:
    """Answers from a script of outcomes (an exception class to raise, or a Response), recording requests."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, type) and issubclass(outcome, Exception):
            raise outcome("scripted failure", request=request)
        assert isinstance(outcome, httpx.Response)
        return outcome


def ok(value: object) -> httpx.Response:
    return httpx.Response(200, json=value)


def error(status: int, code: str, message: str = "nope", **details: object) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message, "details": details}})


def remote(contract: type[Contract], server: Server, breaker: CircuitBreaker | None = None, **binding: str) -> tuple[Contract, list[float]]:
    sleeps: list[float] = []
    client = httpx.Client(base_url=URL, transport=httpx.MockTransport(server))
    served = HttpTransport(
        contract=contract,
        binding={"TRANSPORT": "http", "URL": URL, "TIMEOUT": "5", **binding},
        client=client,
        breaker=breaker or CircuitBreaker(threshold=100),
        sleep=sleeps.append,
    )
    return served, sleeps


# --- what the caller sees -------------------------------------------------------------------------
def test_the_client_is_an_instance_of_the_contract_and_posts_to_the_method_path() -> None:
    server = Server(ok(PRODUCT))
    catalog, _ = remote(Catalog, server)
    assert isinstance(catalog, Catalog)
    product = catalog.get_product("A")
    assert product == ProductDTO(**PRODUCT) and isinstance(product, ProductDTO)
    request = server.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"{URL}/internal/catalog/v1/catalog/get_product"
    assert json.loads(request.content) == {"sku": "A"}
    assert request.headers["content-type"] == "application/json"


def test_a_call_goes_straight_to_the_clients_transport_with_its_headers_and_keeps_no_cookie() -> None:
    """extraction.http.exchange: the client's default headers and the binding's timeouts, but none of
    httpx.Client.send's machinery (its cookie jar parsed every answer: a fifth of a call's CPU)."""
    server = Server(httpx.Response(200, json=PRODUCT, headers={"Set-Cookie": "session=1"}))
    client = httpx.Client(transport=httpx.MockTransport(server), headers={"User-Agent": "seams-http-transport"})
    catalog = HttpTransport(contract=Catalog, binding={"URL": URL, "TIMEOUT": "2"}, client=client, breaker=CircuitBreaker())
    assert catalog.get_product("A") == ProductDTO(**PRODUCT)
    request = server.requests[0]
    assert request.headers["user-agent"] == "seams-http-transport" and request.headers["host"] == "catalog.test:8000"
    assert request.extensions["timeout"] == httpx.Timeout(2.0).as_dict()
    assert not client.cookies


def test_a_base_url_with_a_prefix_keeps_it() -> None:
    server = Server(ok(PRODUCT))
    client = httpx.Client(base_url=f"{URL}/shop", transport=httpx.MockTransport(server))
    catalog = HttpTransport(contract=Catalog, binding={"URL": f"{URL}/shop/"}, client=client, breaker=CircuitBreaker())
    catalog.get_product("A")
    assert server.requests[0].url.path == "/shop/internal/catalog/v1/catalog/get_product"


def test_lists_of_dtos_are_rebuilt() -> None:
    catalog, _ = remote(Catalog, Server(ok([PRODUCT, {**PRODUCT, "sku": "B"}])))
    products = catalog.get_products(["A", "B"])
    assert [type(p) for p in products] == [ProductDTO, ProductDTO]


def test_an_answer_that_does_not_match_the_declaration_is_a_violation() -> None:
    catalog, _ = remote(Catalog, Server(ok({"sku": "A", "price_cents": "100"})))
    with pytest.raises(ContractViolation, match=r"catalog\.Catalog\.get_product -> return"):
        catalog.get_product("A")


def test_arguments_are_validated_before_anything_is_sent() -> None:
    server = Server(ok(PRODUCT))
    catalog, _ = remote(Catalog, server)
    with pytest.raises(ContractViolation, match=r"get_product\(sku\)"):
        catalog.get_product(5)  # type: ignore[arg-type]
    with pytest.raises(ContractViolation, match="get_product"):
        catalog.get_product()  # type: ignore[call-arg]
    assert server.requests == []


def test_a_contract_error_comes_back_as_the_same_class() -> None:
    catalog, _ = remote(Catalog, Server(error(404, "catalog.ProductNotFound", "No product has SKU 'X'.", sku="X")))
    with pytest.raises(ProductNotFound) as caught:
        catalog.get_product("X")
    assert caught.value.message == "No product has SKU 'X'." and caught.value.details == {"sku": "X"}


# --- trace header -----------------------------------------------------------------------------------
def test_the_trace_context_travels_in_the_w3c_traceparent_header(spans: object) -> None:
    server = Server(ok(PRODUCT))
    catalog, _ = remote(Catalog, server)
    with in_trace():
        catalog.get_product("A")
    sent = server.requests[0].headers["traceparent"]
    assert trace_of(server.requests[0].headers) == TRACE_ID
    # The parent the server sees is the call's client span, itself a child of the caller's.
    (call,) = [s for s in spans.get_finished_spans() if s.name == "catalog.Catalog.get_product"]
    assert sent.split("-")[2] == f"{call.context.span_id:016x}" and call.parent.span_id == 0x00F067AA0BA902B7
    assert call.attributes["seams.transport"] == "http" and call.attributes["seams.outcome"] == "ok"


def test_without_a_trace_in_progress_each_call_starts_its_own_trace() -> None:
    server = Server(ok(PRODUCT))
    catalog, _ = remote(Catalog, server)
    catalog.get_product("A")
    catalog.get_product("A")
    first, second = (trace_of(r.headers) for r in server.requests)
    assert re.fullmatch(r"[0-9a-f]{32}", first or "") and first != second
    assert current_trace() is None


# --- retry policy ------------------------------------------------------------------------------------
def test_a_query_is_retried_on_a_connection_error() -> None:
    server = Server(httpx.ConnectError, httpx.ConnectError, ok(3))
    stock, sleeps = remote(Stock, server)
    assert stock.level("A") == 3
    assert len(server.requests) == 3
    assert len(sleeps) == 2 and all(0 < s <= 1 for s in sleeps)


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.RemoteProtocolError], ids=["timeout", "dropped"])
def test_a_query_is_retried_after_a_timeout_or_a_dropped_connection(failure: type[Exception]) -> None:
    server = Server(failure, ok(1))
    stock, _ = remote(Stock, server)
    assert stock.level("A") == 1
    assert len(server.requests) == 2


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_query_is_retried_on_a_gateway_status(status: int) -> None:
    server = Server(httpx.Response(status, text="bad gateway"), ok(1))
    stock, _ = remote(Stock, server)
    assert stock.level("A") == 1


def test_a_query_gives_up_after_the_configured_retries() -> None:
    server = Server(httpx.ConnectError)
    stock, sleeps = remote(Stock, server, RETRIES="3")
    with pytest.raises(TransportUnavailable) as caught:
        stock.level("A")
    assert len(server.requests) == 4 and len(sleeps) == 3
    error = caught.value
    assert isinstance(error, ServiceUnavailable)
    assert "stock.Stock.level is unavailable: the 'stock' service at http://catalog.test:8000" in error.message
    assert error.details["module"] == "stock" and error.details["url"] == URL


@pytest.mark.parametrize(
    "failure", [httpx.ConnectError, httpx.ReadTimeout, httpx.Response(503), httpx.Response(502)], ids=str
)
def test_a_command_without_an_idempotency_key_is_never_retried(failure: object) -> None:
    server = Server(failure, ok(1))
    stock, sleeps = remote(Stock, server)
    with pytest.raises(TransportUnavailable):
        stock.reserve("A", 1)
    assert len(server.requests) == 1 and sleeps == []


def test_a_command_that_timed_out_says_its_outcome_is_unknown() -> None:
    stock, _ = remote(Stock, Server(httpx.ReadTimeout))
    with pytest.raises(TransportUnavailable, match="may or may not have taken effect"):
        stock.reserve("A", 1)


class VerifyingServer(Server):
    """Checks each request's service token as the receiver does (replay protection included),
    then answers from the script: a timeout after the check is a request that reached the service
    and whose answer was lost."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        verify(bearer(request.headers.get("Authorization")), "stock")
        return super().__call__(request)


def test_each_attempt_carries_a_new_token_so_a_retry_is_not_a_replay() -> None:
    server = VerifyingServer(httpx.ReadTimeout, httpx.ReadTimeout, ok(2))
    stock, _ = remote(Stock, server, CALLER="orders")
    assert stock.release("A", 1, idempotency_key="release-43") == 2  # the third attempt's token was new too
    tokens = [r.headers["Authorization"] for r in server.requests]
    assert len(tokens) == 3 and len(set(tokens)) == 3


def test_a_query_meeting_the_keep_alive_race_is_sent_again_at_once_with_a_new_token_and_no_breaker_failure() -> None:
    from extraction.http.pool import StaleConnection

    server = Server(StaleConnection, ok(PRODUCT))
    breaker = CircuitBreaker(threshold=1)
    catalog, sleeps = remote(Catalog, server, breaker, RETRIES="0")
    assert catalog.get_product("A") == ProductDTO(**PRODUCT)
    first, second = (r.headers["Authorization"] for r in server.requests)
    assert first != second and sleeps == [] and breaker.state == "closed"


def test_a_command_without_an_idempotency_key_meeting_the_race_is_not_sent_again() -> None:
    from extraction.http.pool import StaleConnection

    server = Server(StaleConnection, ok(1))
    stock, _ = remote(Stock, server)
    with pytest.raises(TransportUnavailable, match="may or may not have taken effect"):
        stock.reserve("A", 1)
    assert len(server.requests) == 1


def test_a_command_carrying_an_idempotency_key_is_retried_and_sends_the_key() -> None:
    server = Server(httpx.ReadTimeout, ok(2))
    stock, _ = remote(Stock, server)
    assert stock.release("A", 1, idempotency_key="release-42") == 2
    assert len(server.requests) == 2
    assert {r.headers[IDEMPOTENCY_HEADER] for r in server.requests} == {"release-42"}
    assert json.loads(server.requests[0].content)["idempotency_key"] == "release-42"


def test_the_same_command_without_its_key_is_not_retried() -> None:
    server = Server(httpx.ReadTimeout, ok(2))
    stock, _ = remote(Stock, server)
    with pytest.raises(TransportUnavailable):
        stock.release("A", 1)
    assert len(server.requests) == 1 and IDEMPOTENCY_HEADER not in server.requests[0].headers


def test_an_internal_server_error_is_unavailable_and_not_retried() -> None:
    server = Server(httpx.Response(500, text="Server Error"), ok(1))
    stock, _ = remote(Stock, server)
    with pytest.raises(TransportUnavailable, match="answered HTTP 500"):
        stock.level("A")
    assert len(server.requests) == 1


def test_a_missing_route_is_unavailable_not_not_found() -> None:
    stock, _ = remote(Stock, Server(httpx.Response(404, text="<h1>Not Found</h1>", headers={"content-type": "text/html"})))
    with pytest.raises(TransportUnavailable, match=r"does it serve /internal/stock/v1/stock/level\?"):
        stock.level("A")


def test_contract_errors_are_never_retried() -> None:
    server = Server(error(503, "seams.ServiceUnavailable", "downstream is down"), ok(1))
    stock, _ = remote(Stock, server)
    with pytest.raises(ServiceUnavailable, match="downstream is down") as caught:
        stock.level("A")
    assert type(caught.value) is ServiceUnavailable
    assert len(server.requests) == 1


# --- the breaker --------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_fails_fast_and_probes_the_service_back() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=2, cooldown=30, clock=clock)
    server = Server(httpx.ConnectError)
    stock, _ = remote(Stock, server, breaker=breaker, RETRIES="0")
    for _ in range(2):
        with pytest.raises(TransportUnavailable, match="refused or failed the connection"):
            stock.level("A")
    assert breaker.state == OPEN
    with pytest.raises(TransportUnavailable, match="circuit breaker is open") as caught:
        stock.level("A")
    assert caught.value.details["circuit"] == "open"
    assert len(server.requests) == 2  # failed fast: nothing sent
    clock.now = 31
    server.outcomes = [ok(7)]
    assert stock.level("A") == 7  # the probe goes through and closes the circuit
    assert breaker.state == "closed"


def test_contract_errors_do_not_count_as_failures() -> None:
    breaker = CircuitBreaker(threshold=1)
    catalog, _ = remote(Catalog, Server(error(404, "catalog.ProductNotFound")), breaker=breaker)
    for _ in range(3):
        with pytest.raises(ProductNotFound):
            catalog.get_product("X")
    assert breaker.state == "closed"


def test_retries_stop_as_soon_as_the_breaker_opens() -> None:
    server = Server(httpx.ConnectError)
    stock, _ = remote(Stock, server, breaker=CircuitBreaker(threshold=2, cooldown=60), RETRIES="5")
    with pytest.raises(TransportUnavailable, match="circuit breaker is open"):
        stock.level("A")
    assert len(server.requests) == 2


# --- configuration -----------------------------------------------------------------------------------
def test_the_timeout_comes_from_the_binding() -> None:
    catalog, _ = remote(Catalog, Server(ok(PRODUCT)), TIMEOUT="2.5")
    assert channel_of(catalog).timeout == httpx.Timeout(2.5)


@pytest.mark.parametrize(
    "binding",
    [{"TRANSPORT": "http"}, {"URL": "catalog:8000"}, {"URL": URL, "TIMEOUT": "0"}, {"URL": URL, "RETRIES": "-1"}],
    ids=["no-url", "no-scheme", "zero-timeout", "negative-retries"],
)
def test_a_bad_binding_is_a_configuration_error(binding: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        HttpChannel(Catalog, binding, client=httpx.Client(), breaker=CircuitBreaker())


def test_channels_to_one_base_url_share_one_pooled_client_and_breaker() -> None:
    first = HttpChannel(Catalog, {"URL": "http://shared.test:1"})
    second = HttpChannel(Stock, {"URL": "http://shared.test:1/"})
    assert first.client is second.client is shared_client("http://shared.test:1")
    assert first.breaker is second.breaker
    assert HttpChannel(Catalog, {"URL": "http://other.test:1"}).client is not first.client


def test_use_returns_the_http_client_when_the_module_is_bound_to_http() -> None:
    with override_settings(SEAMS_BINDINGS={"catalog": {"TRANSPORT": "http", "URL": "http://bound.test:9", "TIMEOUT": "3"}}):
        served = use(Catalog, consumer="modules.orders.services")
        assert isinstance(served, Catalog)
        assert type(served).__name__ == "HttpCatalog"
        assert channel_of(served).url == "http://bound.test:9"
        assert channel_of(served).timeout == httpx.Timeout(3.0)
    assert type(use(Catalog, consumer="modules.orders.services")).__name__ != "HttpCatalog"


def test_the_pooled_client_sends_with_tcp_nodelay() -> None:
    """A contract call is one small request: Nagle's algorithm must not hold it back (real loopback socket)."""
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from extraction.http.client import close_clients

    class Answer(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the pooled client expects

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with shared_client(f"http://127.0.0.1:{server.server_address[1]}").stream("GET", "/") as response:
            sock = response.extensions["network_stream"].get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        close_clients()
        server.shutdown()
        server.server_close()
