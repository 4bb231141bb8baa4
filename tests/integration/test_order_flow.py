"""The order flow end to end in one process: orders -> catalog (contract), OrderPlaced ->
inventory, StockReserved/StockReservationFailed -> orders, OrderConfirmed/OrderCancelled ->
notifications. Events are delivered in-process after each commit, so every outcome is visible
as soon as the request returns."""

from __future__ import annotations

import logging
import uuid

import pytest
from django.core import mail
from django.db import IntegrityError
from django.test import Client, override_settings

from contracts.kernel import atomic
from modules.inventory.models import Reservation
from modules.inventory.services import stock_reserve_for_order
from modules.notifications.models import SentEmail
from modules.notifications.services import email_send
from modules.orders.models import Order
from modules.orders.services import order_confirm, order_place
from tests.support.tokens import customer

from .shop import add_product, emails_of, place_order, stock_of

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture
def client() -> Client:
    c = Client()
    add_product(c, "KB-101", 4999, stock=3)
    add_product(c, "MS-202", 2499, stock=10)
    return c


def test_a_placed_order_is_confirmed_reserved_and_emailed(client: Client) -> None:
    r = place_order(client, "ada@example.com", ("KB-101", 2), ("MS-202", 1))

    assert r.status_code == 201, r.content
    order = r.json()
    assert order["status"] == "confirmed"
    assert order["total_cents"] == 2 * 4999 + 2499
    assert order["lines"] == [
        {"sku": "KB-101", "quantity": 2, "unit_price_cents": 4999},
        {"sku": "MS-202", "quantity": 1, "unit_price_cents": 2499},
    ]
    assert client.get(f"/api/orders/{order['id']}", headers=customer()).json() == order
    assert stock_of(client, "KB-101") == (3, 2, 1)
    assert stock_of(client, "MS-202") == (10, 1, 9)

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]
    assert f"#{order['id']} is confirmed" in mail.outbox[0].subject
    assert SentEmail.objects.count() == 1
    sent = emails_of(client, "ada@example.com")
    assert [(m["recipient"], m["subject"]) for m in sent] == [("ada@example.com", mail.outbox[0].subject)]
    assert "€124.97" in sent[0]["body"] and sent[0]["sent_at"]


def test_an_order_the_stock_cannot_cover_is_cancelled_and_holds_nothing(client: Client) -> None:
    first = place_order(client, "ada@example.com", ("KB-101", 2))
    assert first.json()["status"] == "confirmed"

    # MS-202 alone could be reserved; all-or-nothing means it is not.
    second = place_order(client, "bob@example.com", ("MS-202", 1), ("KB-101", 2))

    assert second.status_code == 201, second.content
    assert second.json()["status"] == "cancelled"
    assert stock_of(client, "KB-101") == (3, 2, 1)
    assert stock_of(client, "MS-202") == (10, 0, 10)
    assert Order.objects.get(pk=second.json()["id"]).cancel_reason.startswith("Not enough stock of 'KB-101'")
    bob = [m for m in mail.outbox if m.to == ["bob@example.com"]]
    assert len(bob) == 1 and "cancelled" in bob[0].subject and "KB-101" in bob[0].body
    assert len(emails_of(client, "bob@example.com")) == 1


def test_a_sku_without_any_stock_record_cancels_the_order(client: Client) -> None:
    add_product(client, "NEW-1", 100)  # in the catalog, never stocked

    r = place_order(client, "ada@example.com", ("NEW-1", 1))

    assert r.json()["status"] == "cancelled"
    assert client.get("/api/inventory/stock/NEW-1").status_code == 404


def test_the_same_sku_twice_is_one_line_with_the_quantities_added(client: Client) -> None:
    r = place_order(client, "ada@example.com", ("KB-101", 1), ("MS-202", 1), ("KB-101", 1))

    assert r.status_code == 201, r.content
    assert [(line["sku"], line["quantity"]) for line in r.json()["lines"]] == [("KB-101", 2), ("MS-202", 1)]
    assert stock_of(client, "KB-101") == (3, 2, 1)


def test_work_that_rolls_back_publishes_nothing(client: Client) -> None:
    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned), atomic("orders"):
        order_place(customer_email="ada@example.com", lines=[("KB-101", 1)])
        raise Abandoned

    assert Order.objects.count() == 0
    assert Reservation.objects.count() == 0
    assert stock_of(client, "KB-101") == (3, 0, 3)
    assert mail.outbox == [] and SentEmail.objects.count() == 0


@override_settings(EMAIL_BACKEND="tests.support.mail.FailingEmailBackend")
def test_a_failing_handler_does_not_fail_the_order(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="seams.events"):
        r = place_order(client, "ada@example.com", ("KB-101", 1))

    assert r.status_code == 201, r.content
    assert r.json()["status"] == "confirmed"
    assert stock_of(client, "KB-101") == (3, 1, 2)
    # The notification's transaction rolled back with the failed send: nothing claims a sent mail.
    assert SentEmail.objects.count() == 0
    assert emails_of(client, "ada@example.com") == []
    [failure] = [rec for rec in caplog.records if getattr(rec, "handler", "").startswith("modules.notifications")]
    assert failure.event_type == "orders.OrderConfirmed"
    assert str(uuid.UUID(failure.event_id)) in failure.getMessage()
    assert failure.exc_info and "FailingEmailBackend" in str(failure.exc_info[1])


def test_reserving_twice_for_the_same_order_holds_stock_once(client: Client) -> None:
    first = stock_reserve_for_order(order_id=4242, lines=[("KB-101", 2)])
    again = stock_reserve_for_order(order_id=4242, lines=[("KB-101", 2)])

    assert first == again
    assert stock_of(client, "KB-101") == (3, 2, 1)
    assert Reservation.objects.filter(order_id=4242).count() == 1


def test_reserving_twice_with_stock_to_spare_holds_stock_once(client: Client) -> None:
    """The repeat finds enough stock: the unique (order, SKU) constraint stops it, and it gets back
    what the order holds."""
    first = stock_reserve_for_order(order_id=4243, lines=[("KB-101", 1)])
    again = stock_reserve_for_order(order_id=4243, lines=[("KB-101", 1)])

    assert first == again
    assert stock_of(client, "KB-101") == (3, 1, 2)
    assert Reservation.objects.filter(order_id=4243).count() == 1


def test_a_repeated_reservation_inside_a_handler_transaction_fails_it(client: Client) -> None:
    stock_reserve_for_order(order_id=4244, lines=[("KB-101", 1)])

    with pytest.raises(IntegrityError), atomic("inventory"):
        stock_reserve_for_order(order_id=4244, lines=[("KB-101", 1)])

    assert stock_of(client, "KB-101") == (3, 1, 2)


def test_an_order_outcome_arriving_twice_is_announced_once(client: Client) -> None:
    order = place_order(client, "ada@example.com", ("KB-101", 1)).json()

    assert order_confirm(order_id=order["id"]).status == "confirmed"

    assert len(mail.outbox) == 1


def test_an_event_delivered_twice_sends_one_email(client: Client) -> None:
    event_id = uuid.uuid4()

    first = email_send(event_id=event_id, recipient="ada@example.com", subject="Hello", body="Once.")
    second = email_send(event_id=event_id, recipient="ada@example.com", subject="Hello", body="Once.")

    assert first is not None and second is None
    assert len(mail.outbox) == 1 and SentEmail.objects.count() == 1


def test_a_duplicate_email_inside_a_handler_transaction_fails_that_transaction_and_sends_nothing(
    client: Client,
) -> None:
    """Inside a caller's transaction (an event handler's) there is no savepoint to fall back to: a
    duplicate raises, so the handler's attempt rolls back and its retry meets the inbox row."""
    event_id = uuid.uuid4()
    assert email_send(event_id=event_id, recipient="ada@example.com", subject="Hello", body="Once.") is not None

    with pytest.raises(IntegrityError), atomic("notifications"):
        email_send(event_id=event_id, recipient="ada@example.com", subject="Hello", body="Twice?")

    assert len(mail.outbox) == 1 and SentEmail.objects.count() == 1
