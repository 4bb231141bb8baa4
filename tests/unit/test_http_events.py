"""Events over HTTP without a database: the client (``HttpTransport.forward_event``) against
httpx.MockTransport, and the refusals of the receiving endpoint (``extraction.http.events``) that
come before any handler runs. The handler side, with real module databases, is in
tests/integration/test_http_events.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from django.test import Client, override_settings
from django.urls import reverse

from contracts.kernel import ConfigurationError, Undeliverable
from contracts.kernel.remote import forward_event as kernel_forward_event
from extraction.http import CircuitBreaker, HttpTransport, TransportUnavailable
from extraction.http.breaker import OPEN, reset_breakers
from extraction.http.client import forward_event, forwarding_module
from extraction.http.wire import events_path
from tests.support.identity import service_headers
from tests.support.processes import free_port
from tests.support.tracing import TRACE_ID, TRACEPARENT, in_trace, trace_of

URL = "http://notifications.test:8000"
CONFIRMATION = "modules.notifications.handlers.email_order_confirmation"
BINDING = {"TRANSPORT": "http", "MODULE": "notifications", "URL": URL, "TIMEOUT": "2.5"}
EVENTS = "/internal/notifications/events/"


def envelope(**changes: object) -> dict[str, object]:
    """An outbox envelope on the wire (``envelope_to_wire``) of a valid OrderConfirmed."""
    wire: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "type": "orders.OrderConfirmed",
        "version": 1,
        "key": "7",
        "payload": {"order_id": 7, "customer_email": "ada@example.com", "total_cents": 2500},
        "headers": {"traceparent": TRACEPARENT},
        "occurred_at": "2025-01-01T12:00:00+00:00",
    }
    return {**wire, **changes}


class Receiver:
    """A scripted receiving service: answers each request with the next outcome, records requests."""

    def __init__(self, *outcomes: httpx.Response | type[Exception]) -> None:
        self.outcomes = list(outcomes)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, type):
            raise outcome("scripted failure", request=request)
        return outcome


def forward(receiver: Receiver, breaker: CircuitBreaker | None = None, **binding: str) -> str:
    client = httpx.Client(base_url=URL, transport=httpx.MockTransport(receiver))
    return forward_event(
        binding={**BINDING, **binding},
        subscriber=CONFIRMATION,
        envelope=envelope(),
        client=client,
        breaker=breaker or CircuitBreaker(threshold=100),
    )


@pytest.fixture(autouse=True)
def fresh_breakers() -> Iterator[None]:
    reset_breakers()
    yield
    reset_breakers()


# --- the client ---------------------------------------------------------------------------------
def test_the_transport_class_carries_the_forwarder_the_kernel_looks_for() -> None:
    assert HttpTransport.forward_event is forward_event  # type: ignore[attr-defined]


def test_a_forward_posts_subscriber_and_envelope_to_the_modules_events_path() -> None:
    receiver = Receiver(httpx.Response(200, json={"outcome": "completed"}))
    assert forward(receiver) == "completed"
    (request,) = receiver.requests
    assert request.method == "POST" and request.url.path == EVENTS == events_path("notifications")
    body = json.loads(request.content)
    assert body["subscriber"] == CONFIRMATION
    assert body["envelope"]["type"] == "orders.OrderConfirmed" and body["envelope"]["payload"]["order_id"] == 7
    assert trace_of(body["envelope"]["headers"]) == TRACE_ID  # the envelope carries the trace to the handler
    assert request.extensions["timeout"]["read"] == 2.5  # the binding's TIMEOUT


def test_a_duplicate_is_an_outcome_too() -> None:
    assert forward(Receiver(httpx.Response(200, json={"outcome": "duplicate"}))) == "duplicate"


def test_a_forward_sends_the_current_trace_context_in_its_headers() -> None:
    receiver = Receiver(httpx.Response(200, json={"outcome": "completed"}))
    client = httpx.Client(base_url=URL, transport=httpx.MockTransport(receiver))
    forward_event(binding=BINDING, subscriber=CONFIRMATION, envelope=envelope(headers={}), client=client)
    with in_trace():
        forward_event(binding=BINDING, subscriber=CONFIRMATION, envelope=envelope(headers={}), client=client)
    outside, inside = receiver.requests
    assert "traceparent" not in outside.headers and trace_of(inside.headers) == TRACE_ID


def test_a_refusal_is_undeliverable_with_the_receivers_reason_and_does_not_trip_the_breaker() -> None:
    breaker = CircuitBreaker(threshold=1)
    refusal = httpx.Response(422, json={"undeliverable": "unknown subscriber x for orders.OrderConfirmed"})
    with pytest.raises(Undeliverable) as caught:
        forward(Receiver(refusal), breaker)
    assert "unknown subscriber x for orders.OrderConfirmed" in str(caught.value)
    assert URL in str(caught.value)
    assert breaker.failures == 0


def test_a_handler_failure_is_retryable_names_the_error_and_does_not_trip_the_breaker() -> None:
    breaker = CircuitBreaker(threshold=1)
    failed = httpx.Response(500, json={"error": {"type": "SMTPServerDisconnected", "message": "mail relay gone"}})
    with pytest.raises(TransportUnavailable) as caught:
        forward(Receiver(failed), breaker)
    assert "SMTPServerDisconnected: mail relay gone" in str(caught.value)
    assert caught.value.details["error_type"] == "SMTPServerDisconnected"
    assert caught.value.details["subscriber"] == CONFIRMATION
    assert breaker.failures == 0 and breaker.state != OPEN


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.Response(503, text="upstream down"), "answered HTTP 503 outside the protocol"),
        (httpx.Response(502, json={"detail": "bad gateway"}), "answered HTTP 502 outside the protocol"),
        (httpx.Response(404, text="not found"), f"(does it serve {EVENTS}?)"),
        (httpx.Response(200, json={"outcome": "maybe"}), "answered HTTP 200 outside the protocol"),
        (httpx.Response(422, json={"detail": "nope"}), "answered HTTP 422 outside the protocol"),
    ],
)
def test_an_answer_outside_the_protocol_is_retryable_and_counts_as_a_failure(answer: httpx.Response, expected: str) -> None:
    breaker = CircuitBreaker(threshold=10)
    with pytest.raises(TransportUnavailable, match=expected.replace("?", r"\?").replace("(", r"\(").replace(")", r"\)")):
        forward(Receiver(answer), breaker)
    assert breaker.failures == 1


@pytest.mark.parametrize(
    ("failure", "expected"),
    [(httpx.ConnectError, "refused or failed the connection"), (httpx.ReadTimeout, "did not answer in time")],
)
def test_network_failures_are_retryable_after_exactly_one_attempt(failure: type[Exception], expected: str) -> None:
    """The outbox retries (with backoff, counted): the transport makes one attempt, whatever RETRIES says."""
    receiver = Receiver(failure)
    with pytest.raises(TransportUnavailable, match=expected) as caught:
        forward(receiver, RETRIES="5")
    assert len(receiver.requests) == 1
    assert caught.value.details["module"] == "notifications" and caught.value.details["url"] == URL
    assert f"was not delivered to {CONFIRMATION}: the 'notifications' service at {URL}" in str(caught.value)


def test_an_open_breaker_fails_fast_without_a_request() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown=300)
    receiver = Receiver(httpx.ConnectError)
    with pytest.raises(TransportUnavailable):
        forward(receiver, breaker)
    assert breaker.state == OPEN
    with pytest.raises(TransportUnavailable, match="circuit breaker is open") as caught:
        forward(receiver, breaker)
    assert caught.value.details["circuit"] == "open"
    assert len(receiver.requests) == 1


def test_the_module_comes_from_the_binding_else_from_the_handlers_name() -> None:
    assert forwarding_module({"MODULE": "billing"}, "modules.notifications.handlers.f") == "billing"
    assert forwarding_module({}, "modules.notifications.handlers.f") == "notifications"
    with pytest.raises(ConfigurationError, match="no MODULE key"):
        forwarding_module({}, "somewhere.else.handler")


def test_a_binding_without_a_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="SEAMS_BIND_NOTIFICATIONS=http://host:port"):
        forward_event(binding={"TRANSPORT": "http"}, subscriber=CONFIRMATION, envelope=envelope())


def test_the_kernel_forwards_through_the_configured_http_transport() -> None:
    """No injected client: the kernel finds HttpTransport.forward_event by SEAMS_TRANSPORTS and the
    shared pooled client meets a closed port."""
    closed = f"http://127.0.0.1:{free_port()}"
    binding = {"TRANSPORT": "http", "MODULE": "notifications", "URL": closed, "TIMEOUT": "5"}
    with override_settings(SEAMS_BINDINGS={"notifications": binding}), pytest.raises(TransportUnavailable) as caught:
        kernel_forward_event("notifications", CONFIRMATION, envelope())
    assert closed in str(caught.value)


# --- the receiving endpoint: refusals before any handler runs -------------------------------------------------
def post(path: str, body: object, **headers: str) -> httpx.Response:
    """POST as the orders module of this service would forward (orders publishes OrderConfirmed)."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {**service_headers("orders", path.split("/")[2]), **headers}
    return Client().post(path, content, content_type="application/json", headers=headers)  # type: ignore[return-value]


def test_every_installed_module_has_an_event_receiver_outside_the_public_docs() -> None:
    for label in ("catalog", "inventory", "orders", "notifications"):
        assert reverse(f"seams-events-{label}", urlconf="extraction.http.urls") == events_path(label)
    schema = Client().get("/api/openapi.json").json()
    assert not any("/internal/" in path for path in schema["paths"])


def test_only_post_is_accepted() -> None:
    assert Client().get(EVENTS).status_code == 405


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed request: the body is not JSON"),
        ([], "malformed request: expected"),
        ({"envelope": {}}, "'subscriber' must be the dotted name of a handler"),
        ({"subscriber": CONFIRMATION, "envelope": "x"}, "'envelope' must be an object"),
    ],
)
def test_a_malformed_request_is_undeliverable(body: object, reason: str) -> None:
    r = post(EVENTS, body)
    assert r.status_code == 422
    assert reason in r.json()["undeliverable"]


def test_a_subscriber_of_another_module_is_undeliverable_here() -> None:
    r = post("/internal/orders/events/", {"subscriber": CONFIRMATION, "envelope": envelope()})
    assert r.status_code == 422
    assert r.json()["undeliverable"] == f"subscriber {CONFIRMATION} belongs to module 'notifications', not to 'orders'"
    r = post(EVENTS, {"subscriber": "elsewhere.handlers.f", "envelope": envelope()})
    assert r.json()["undeliverable"] == "subscriber elsewhere.handlers.f belongs to no module installed here, not to 'notifications'"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"id": "not-a-uuid"}, "malformed envelope"),
        ({"type": "orders.OrderTeleported"}, "unknown event type orders.OrderTeleported v1"),
        ({"payload": {"order_id": "seven"}}, "schema drift"),
    ],
)
def test_what_receive_event_refuses_is_undeliverable(changes: dict[str, object], reason: str) -> None:
    r = post(EVENTS, {"subscriber": CONFIRMATION, "envelope": envelope(**changes)}, traceparent=TRACEPARENT)
    assert r.status_code == 422 and reason in r.json()["undeliverable"]


def test_an_unknown_subscriber_of_the_module_is_undeliverable() -> None:
    r = post(EVENTS, {"subscriber": "modules.notifications.handlers.renamed_away", "envelope": envelope()})
    assert r.status_code == 422
    assert "unknown subscriber modules.notifications.handlers.renamed_away" in r.json()["undeliverable"]


def test_a_module_bound_elsewhere_does_not_receive_its_events_here() -> None:
    bound = {"notifications": {"TRANSPORT": "http", "MODULE": "notifications", "URL": URL}}
    with override_settings(SEAMS_BINDINGS=bound):
        r = post(EVENTS, {"subscriber": CONFIRMATION, "envelope": envelope()})
    assert r.status_code == 503
    assert r.json()["error"]["type"] == "NotServedHere"
    assert "SEAMS_BIND_NOTIFICATIONS" in r.json()["error"]["message"]
