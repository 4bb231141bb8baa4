"""Events over HTTP with real module databases: the receiving endpoint runs the handler once (inbox),
and the whole path publisher outbox -> ``HttpTransport.forward_event`` -> ``POST
/internal/notifications/events/`` -> handler, with the HTTP exchange carried in-process (an httpx
transport that hands each request to Django's test client). tests/e2e/test_events_over_http.py
runs the same story between two real gunicorn processes."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest
from django.test import Client, override_settings

from contracts.kernel.models import InboxEntry, Publication, PublicationStatus
from contracts.kernel.outbox import envelope_to_wire, process_publication
from contracts.kernel.testing import write_completions
from extraction.http.breaker import reset_breakers
from extraction.http.client import forward_event
from modules.notifications.models import SentEmail
from tests.integration.shop import add_product, place_order
from tests.support.identity import service_headers
from tests.support.mail import MailServerDown
from tests.support.tracing import TRACEPARENT, trace_of

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

CONFIRMATION = "modules.notifications.handlers.email_order_confirmation"
EVENTS = "/internal/notifications/events/"
SERVICE = "http://notifications.test"
#: Retries without waiting, so a test can drive a publication to its end (as in tests/integration/events).
FAST = {"DISPATCH": "inline", "MAX_ATTEMPTS": 3, "BACKOFF_BASE": 0.0, "BACKOFF_MAX": 0.0, "LEASE": 60, "STALE_AFTER": 30}


@pytest.fixture
def shop() -> Iterator[Client]:
    with override_settings(SEAMS_EVENT_BACKEND="contracts.kernel.outbox.OutboxEventBackend", SEAMS_EVENTS=FAST):
        client = Client()
        add_product(client, "KB-101", 4999, stock=10)
        yield client


def confirmed(order_id: int, email: str) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "type": "orders.OrderConfirmed",
        "version": 1,
        "key": str(order_id),
        "payload": {"order_id": order_id, "customer_email": email, "total_cents": 4999},
        "headers": {"traceparent": TRACEPARENT},
        "occurred_at": "2025-01-01T12:00:00+00:00",
    }


def receive(envelope: dict[str, object], subscriber: str = CONFIRMATION) -> Any:
    return Client().post(
        EVENTS, {"subscriber": subscriber, "envelope": envelope}, content_type="application/json",
        headers={"traceparent": TRACEPARENT, **service_headers("orders", "notifications")},
    )


#: Every email sent inside is refused by the mail server (``tests.support.mail``): the handler fails.
mail_server_down = override_settings(EMAIL_BACKEND="tests.support.mail.FailingEmailBackend")


# --- the endpoint -----------------------------------------------------------------------------------
def test_the_endpoint_runs_the_handler_once_and_answers_duplicate_after() -> None:
    envelope = confirmed(41, "ada@example.com")
    first = receive(envelope)
    assert first.status_code == 200 and first.json() == {"outcome": "completed"}
    assert SentEmail.objects.filter(recipient="ada@example.com").count() == 1
    assert InboxEntry.objects.using("notifications").filter(event_id=envelope["id"], subscriber=CONFIRMATION).exists()

    again = receive(envelope)  # the sender lost the answer and forwards again
    assert again.status_code == 200 and again.json() == {"outcome": "duplicate"}
    assert SentEmail.objects.filter(recipient="ada@example.com").count() == 1


def test_a_failing_handler_is_a_500_with_only_an_error_id_that_leaves_nothing_behind(caplog: pytest.LogCaptureFixture) -> None:
    envelope = confirmed(42, "bob@example.com")
    with mail_server_down, caplog.at_level(logging.ERROR, logger="seams.http"):
        r = receive(envelope)
    assert r.status_code == 500
    error = r.json()["error"]
    assert error["type"] == "HandlerFailed" and len(error["error_id"]) == 32
    # Nothing of the exception reaches the peer: not its type, not its text, not a traceback.
    for leak in (b"MailServerDown", b"mail server", b"FailingEmailBackend", b"Traceback"):
        assert leak not in r.content
    # The details are logged under the error id.
    (record,) = [rec for rec in caplog.records if rec.name == "seams.http"]
    assert record.error_id == error["error_id"] and error["error_id"] in record.getMessage()  # type: ignore[attr-defined]
    assert str(envelope["id"]) in record.getMessage() and record.event_id == envelope["id"]  # type: ignore[attr-defined]
    assert record.exc_info is not None and isinstance(record.exc_info[1], MailServerDown), record.exc_info
    assert not InboxEntry.objects.using("notifications").filter(event_id=envelope["id"]).exists()
    assert not SentEmail.objects.filter(recipient="bob@example.com").exists()  # its record rolled back with it

    assert receive(envelope).json() == {"outcome": "completed"}
    assert SentEmail.objects.filter(recipient="bob@example.com").count() == 1


# --- publisher outbox -> HTTP client -> endpoint -> handler ---------------------------------------------
class DjangoTestServer(httpx.BaseTransport):
    """An httpx transport that serves each request with Django's test client, as the receiving
    process would: while it runs, notifications is not bound (it is served "there")."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in {"host", "content-length", "content-type"}}
        with override_settings(SEAMS_BINDINGS={}):
            answer = Client().generic(
                request.method, request.url.path, request.content,
                content_type=request.headers.get("content-type", ""), headers=headers,
            )
        return httpx.Response(answer.status_code, headers=dict(answer.headers), content=answer.content)


class InProcessHttp:
    """``SEAMS_TRANSPORTS["http"]`` for these tests: the real forwarder over the in-process exchange."""

    requests: ClassVar[list[dict[str, Any]]] = []

    @classmethod
    def forward_event(cls, *, binding: dict[str, str], subscriber: str, envelope: dict[str, Any]) -> str:
        client = httpx.Client(base_url=binding["URL"], transport=DjangoTestServer())
        client.event_hooks["request"].append(lambda request: cls.requests.append(json.loads(request.content)))
        return forward_event(binding=binding, subscriber=subscriber, envelope=envelope, client=client)


@pytest.fixture
def notifications_over_http() -> Iterator[None]:
    reset_breakers()
    InProcessHttp.requests.clear()
    bindings = {"notifications": {"TRANSPORT": "http", "MODULE": "notifications", "URL": SERVICE, "TIMEOUT": "10"}}
    transports = {"http": f"{__name__}.InProcessHttp"}
    with override_settings(SEAMS_BINDINGS=bindings, SEAMS_TRANSPORTS=transports):
        yield
    reset_breakers()


def confirmation_of(order_id: int) -> Publication:
    return Publication.objects.using("orders").get(subscriber=CONFIRMATION, key=str(order_id))


def test_an_order_confirmation_crosses_http_and_is_handled_once(shop: Client, notifications_over_http: None) -> None:
    r = place_order(shop, "cy@example.com", ("KB-101", 1))
    assert r.status_code == 201 and r.json()["status"] == "confirmed"
    write_completions()  # the forward's completion mark (another SQLite file) may still wait
    publication = confirmation_of(r.json()["id"])
    assert publication.status == PublicationStatus.COMPLETED
    assert [body["subscriber"] for body in InProcessHttp.requests] == [CONFIRMATION]
    sent, stored = InProcessHttp.requests[0]["envelope"], json.loads(json.dumps(envelope_to_wire(publication)))
    assert {**sent, "headers": None} == {**stored, "headers": None}
    # The envelope goes with the forward span's context: the same trace as the stored one, one span on.
    assert trace_of(sent["headers"]) == trace_of(stored["headers"]) and sent["headers"] != stored["headers"]
    assert SentEmail.objects.filter(recipient="cy@example.com").count() == 1

    # Forwarded again (a lost answer): the receiver's inbox answers duplicate, no second email.
    assert InProcessHttp.forward_event(
        binding={"MODULE": "notifications", "URL": SERVICE}, subscriber=CONFIRMATION, envelope=envelope_to_wire(publication)
    ) == "duplicate"
    assert SentEmail.objects.filter(recipient="cy@example.com").count() == 1


def test_a_handler_failure_over_http_is_retried_by_the_outbox(shop: Client, notifications_over_http: None) -> None:
    with mail_server_down:
        r = place_order(shop, "di@example.com", ("KB-101", 1))
    assert r.status_code == 201 and r.json()["status"] == "confirmed"  # the order does not wait for the email
    publication = confirmation_of(r.json()["id"])
    assert publication.status == PublicationStatus.FAILED
    # The publisher learns that the handler failed and the receiver's error id, not the exception.
    assert "HandlerFailed: the handler failed (error id " in publication.last_error
    assert "mail server" not in publication.last_error and "Traceback" not in publication.last_error

    assert process_publication("orders", publication.pk) == "completed"
    assert SentEmail.objects.filter(recipient="di@example.com").count() == 1


def test_what_the_receiver_refuses_over_http_goes_dead_with_its_reason(shop: Client, notifications_over_http: None) -> None:
    r = place_order(shop, "eve@example.com", ("KB-101", 1))
    publication = confirmation_of(r.json()["id"])
    Publication.objects.using("orders").filter(pk=publication.pk).update(
        status=PublicationStatus.PENDING, subscriber="modules.notifications.handlers.renamed_away"
    )
    assert process_publication("orders", publication.pk) == "dead"
    publication.refresh_from_db()
    assert "unknown subscriber modules.notifications.handlers.renamed_away" in publication.last_error
    assert SERVICE in publication.last_error
