"""The outbox end to end in one process: written with the business change, delivered after
commit, recorded per subscriber, deduplicated by the inbox."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from contracts.kernel import atomic
from contracts.kernel.models import InboxEntry, Publication, PublicationStatus
from contracts.kernel.modules import get_module
from contracts.kernel.outbox import process_publication
from contracts.kernel.outbox.statements import reachable_table
from contracts.kernel.testing import PublishedEvents, write_completions
from contracts.orders import OrderConfirmed, OrderPlaced
from modules.inventory.models import Reservation
from modules.notifications.models import SentEmail
from modules.orders.services import order_place
from tests.integration.shop import place_order

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_publish_writes_event_and_one_publication_per_subscriber(shop: Client) -> None:
    r = place_order(shop, "ada@example.com", ("KB-101", 2))
    assert r.status_code == 201 and r.json()["status"] == "confirmed"

    placed = Publication.objects.using("orders").filter(event_type="orders.OrderPlaced").first()
    assert placed.payload["order_id"] == r.json()["id"]
    assert placed.key == str(r.json()["id"])
    assert placed.headers["publisher"] == "orders" and placed.headers["traceparent"]
    publications = Publication.objects.using("orders").filter(event_id=placed.event_id)  # each holds the event
    assert {(p.position, p.payload["order_id"]) for p in publications} == {(placed.position, r.json()["id"])}
    subscribers = set(publications.values_list("subscriber_module", flat=True))
    assert subscribers == {"inventory", "eventprobe"}
    write_completions()  # marks of handlers on other SQLite files wait up to COMPLETION_DELAY
    assert set(Publication.objects.using("orders").values_list("status", flat=True)) == {PublicationStatus.COMPLETED}
    # The trace travels: the event inventory published while handling OrderPlaced continues it.
    reserved = Publication.objects.using("inventory").filter(event_type="inventory.StockReserved").first()
    assert reserved.headers["traceparent"].split("-")[1] == placed.headers["traceparent"].split("-")[1]


def test_rolled_back_work_leaves_no_event(shop: Client, published_events: PublishedEvents) -> None:
    with pytest.raises(RuntimeError), atomic("orders"):
        order_place(customer_email="ada@example.com", lines=[("KB-101", 1)])
        raise RuntimeError("the caller changed its mind")
    assert Publication.objects.using("orders").count() == 0
    assert Reservation.objects.count() == 0
    assert mail.outbox == []


def test_redelivery_repeats_no_side_effect(shop: Client) -> None:
    order_id = place_order(shop, "ada@example.com", ("KB-101", 1)).json()["id"]
    assert Reservation.objects.filter(order_id=order_id).count() == 1 and SentEmail.objects.count() == 1

    # Deliver every publication of every module a second time, as a crashed worker's retry would.
    # Where the handler's transaction could not complete the publication (another SQLite file), a
    # crash after the handler's commit leaves it open, its inbox row written: the retry is refused
    # by the inbox. Where it could (module schemas of one PostgreSQL database), handler and
    # completion committed together, the completed row is the record: the retry finds nothing to claim.
    for alias in ("orders", "inventory"):
        for pub in Publication.objects.using(alias).all():
            handler_alias = get_module(pub.subscriber_module).database_alias
            if reachable_table(alias, handler_alias) is None:
                Publication.objects.using(alias).filter(pk=pub.pk).update(status=PublicationStatus.PENDING)
                assert process_publication(alias, pub.pk) == "duplicate"
            else:
                assert InboxEntry.objects.using(handler_alias).filter(event_id=pub.event_id).count() == 0
                assert process_publication(alias, pub.pk) == "not-claimed"
    assert Reservation.objects.filter(order_id=order_id).count() == 1
    assert SentEmail.objects.count() == 1 and len(mail.outbox) == 1
    emailed = 0 if reachable_table("orders", "notifications") else 1  # the inbox row, or the completion
    assert InboxEntry.objects.using("notifications").count() == emailed
    assert set(Publication.objects.using("orders").values_list("status", flat=True)) == {PublicationStatus.COMPLETED}


def test_published_events_fixture_records_what_a_block_published(shop: Client, published_events: PublishedEvents) -> None:
    order_id = place_order(shop, "ada@example.com", ("KB-101", 1)).json()["id"]
    published_events.assert_one(OrderPlaced, order_id=order_id)
    published_events.assert_one(OrderConfirmed, order_id=order_id, customer_email="ada@example.com")
    assert published_events.types() == ["orders.OrderPlaced", "inventory.StockReserved", "orders.OrderConfirmed"]
