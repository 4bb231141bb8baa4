"""Events across a cut: a subscriber whose module is bound to a transport is not run here; its
publication is forwarded from the publisher's outbox, with the outbox's retries, dead letters and
ordering, and the receiving side's inbox keeps it effectively-once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client, override_settings

from contracts.kernel import ConfigurationError
from contracts.kernel.models import Publication, PublicationStatus
from contracts.kernel.outbox import (
    CeleryDispatcher,
    envelope_to_wire,
    module_aliases,
    process_publication,
    receive_event,
    relay_once,
)
from contracts.kernel.testing import write_completions
from modules.notifications.models import SentEmail
from tests.integration.shop import place_order
from tests.support.loopback import LoopbackTransport

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

CONFIRMATION = "modules.notifications.handlers.email_order_confirmation"
LOOPBACK = {"loopback": "tests.support.loopback.LoopbackTransport"}


@pytest.fixture
def notifications_remote() -> Iterator[None]:
    LoopbackTransport.reset()
    bindings = {"notifications": {"TRANSPORT": "loopback", "MODULE": "notifications"}}
    with override_settings(SEAMS_BINDINGS=bindings, SEAMS_TRANSPORTS=LOOPBACK):
        yield
    LoopbackTransport.reset()


def confirmation_of(order_id: int) -> Publication:
    return Publication.objects.using("orders").get(subscriber=CONFIRMATION, key=str(order_id))


def test_a_bound_subscriber_is_forwarded_and_handled_once(shop: Client, notifications_remote: None) -> None:
    r = place_order(shop, "ada@example.com", ("KB-101", 1))
    assert r.json()["status"] == "confirmed"

    assert LoopbackTransport.forwarded == [("notifications", CONFIRMATION, "completed")]
    write_completions()  # the forward's completion mark may still wait (COMPLETION_DELAY)
    assert confirmation_of(r.json()["id"]).status == PublicationStatus.COMPLETED
    assert SentEmail.objects.filter(recipient="ada@example.com").count() == 1

    # The sender timed out and forwards again: the receiver's inbox stops a second email.
    publication = confirmation_of(r.json()["id"])
    assert receive_event(CONFIRMATION, envelope_to_wire(publication)) == "duplicate"
    assert SentEmail.objects.filter(recipient="ada@example.com").count() == 1


def test_a_failed_forward_is_retried_by_the_outbox(shop: Client, notifications_remote: None) -> None:
    LoopbackTransport.failure = ConnectionError("service unreachable")
    r = place_order(shop, "bob@example.com", ("KB-101", 1))
    publication = confirmation_of(r.json()["id"])
    assert publication.status == PublicationStatus.FAILED
    assert "service unreachable" in publication.last_error
    assert SentEmail.objects.filter(recipient="bob@example.com").count() == 0

    LoopbackTransport.failure = None
    assert process_publication("orders", publication.pk) == "completed"
    assert SentEmail.objects.filter(recipient="bob@example.com").count() == 1


def test_what_the_receiver_can_never_handle_goes_dead_with_its_reason(shop: Client, notifications_remote: None) -> None:
    r = place_order(shop, "cy@example.com", ("KB-101", 1))
    publication = confirmation_of(r.json()["id"])
    Publication.objects.using("orders").filter(pk=publication.pk).update(
        status=PublicationStatus.PENDING, subscriber="modules.notifications.handlers.renamed_away"
    )
    assert process_publication("orders", publication.pk) == "dead"
    publication.refresh_from_db()
    assert publication.status == PublicationStatus.DEAD
    assert "unknown subscriber modules.notifications.handlers.renamed_away" in publication.last_error


def test_receive_event_refuses_malformed_and_drifted_envelopes(shop: Client) -> None:
    from contracts.kernel import Undeliverable

    r = place_order(shop, "di@example.com", ("KB-101", 1))
    wire = envelope_to_wire(confirmation_of(r.json()["id"]))
    with pytest.raises(Undeliverable, match="malformed envelope"):
        receive_event(CONFIRMATION, {k: v for k, v in wire.items() if k != "id"})
    with pytest.raises(Undeliverable, match="schema drift"):
        receive_event(CONFIRMATION, {**wire, "payload": {"order_id": "not a number"}})
    with pytest.raises(Undeliverable, match="unknown event type"):
        receive_event(CONFIRMATION, {**wire, "type": "orders.OrderTeleported"})


def test_remote_subscribers_of_an_extracted_service_get_publications(shop: Client) -> None:
    """An extracted service cannot import the monolith's handlers; SEAMS_REMOTE_SUBSCRIBERS names
    them, and their publications are written and forwarded like the others."""
    remote = {"orders.OrderPlaced": [{"subscriber": "modules.billing.handlers.open_invoice", "module": "billing"}]}
    bindings = {"billing": {"TRANSPORT": "loopback", "MODULE": "billing"}}
    LoopbackTransport.reset()
    with override_settings(SEAMS_REMOTE_SUBSCRIBERS=remote, SEAMS_BINDINGS=bindings, SEAMS_TRANSPORTS=LOOPBACK):
        r = place_order(shop, "eve@example.com", ("KB-101", 1))
    publication = Publication.objects.using("orders").get(subscriber_module="billing")
    assert publication.key == str(r.json()["id"])
    # The receiver (here: this process) has no such handler: a dead letter that names it.
    assert publication.status == PublicationStatus.DEAD
    assert "unknown subscriber modules.billing.handlers.open_invoice" in publication.last_error


def test_a_remote_module_that_is_not_bound_is_a_configuration_error(shop: Client) -> None:
    remote = {"orders.OrderPlaced": [{"subscriber": "modules.billing.handlers.open_invoice", "module": "billing"}]}
    with override_settings(SEAMS_REMOTE_SUBSCRIBERS=remote):
        place_order(shop, "fay@example.com", ("KB-101", 1))
    publication = Publication.objects.using("orders").get(subscriber_module="billing")
    assert publication.status == PublicationStatus.FAILED
    assert "SEAMS_BIND_BILLING" in publication.last_error
    with override_settings(SEAMS_REMOTE_SUBSCRIBERS=remote), pytest.raises(ConfigurationError):
        from contracts.kernel.remote import forward_event

        forward_event("billing", "modules.billing.handlers.open_invoice", {})


def test_the_relay_leaves_an_extracted_modules_outbox_to_its_service(shop: Client, notifications_remote: None) -> None:
    assert "notifications" not in module_aliases()
    assert {"catalog", "inventory", "orders"} <= set(module_aliases())
    assert "notifications" not in relay_once()


def test_celery_sends_a_remote_subscribers_publication_to_the_publishers_queue(notifications_remote: None) -> None:
    assert CeleryDispatcher.queue_label(subscriber="notifications", publisher="orders") == "orders"
    assert CeleryDispatcher.queue_label(subscriber="inventory", publisher="orders") == "inventory"


def test_an_unreachable_receiver_is_retried_without_end_never_buried(shop: Client, notifications_remote: None) -> None:
    """MAX_ATTEMPTS (3 here) counts the handler's failures, not a service outage."""
    from contracts.kernel import ServiceUnavailable

    LoopbackTransport.failure = ServiceUnavailable("notifications service down")
    r = place_order(shop, "gil@example.com", ("KB-101", 1))
    publication = confirmation_of(r.json()["id"])
    for _ in range(5):
        assert process_publication("orders", publication.pk) == "failed"
    publication.refresh_from_db()
    assert publication.status == PublicationStatus.FAILED and publication.attempts == 6

    LoopbackTransport.failure = None
    assert process_publication("orders", publication.pk) == "completed"
    assert SentEmail.objects.filter(recipient="gil@example.com").count() == 1
