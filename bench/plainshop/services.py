"""The shop's steps as plain functions: the same statements as the Seams modules' services."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import signals
from .models import Order, OrderLine, Product, Reservation, SentEmail, StockItem


class PlainShopError(Exception):
    """A refusal the API answers with 422 (unknown SKU)."""


def order_place(*, customer_email: str, lines: Sequence[tuple[str, int]]) -> tuple[Order, list[OrderLine]]:
    quantities: dict[str, int] = {}
    for sku, quantity in lines:
        quantities[sku] = quantities.get(sku, 0) + quantity
    prices = dict(Product.objects.filter(sku__in=list(quantities)).values_list("sku", "price_cents"))
    for sku in quantities:
        if sku not in prices:
            raise PlainShopError(f"No product has SKU '{sku}'.")
    total = sum(prices[sku] * quantity for sku, quantity in quantities.items())
    with transaction.atomic():
        order = Order.objects.create(customer_email=customer_email, total_cents=total)
        order_lines = OrderLine.objects.bulk_create(
            OrderLine(order=order, sku=sku, quantity=quantity, unit_price_cents=prices[sku])
            for sku, quantity in quantities.items()
        )
        signals.order_placed.send(
            sender=Order, order_id=order.pk, customer_email=customer_email, lines=list(quantities.items())
        )
    return order, order_lines


def stock_reserve_for_order(*, order_id: int, lines: Sequence[tuple[str, int]]) -> None:
    """All or nothing; publishes stock_reserved or stock_reservation_failed in the same transaction."""
    wanted = dict(lines)
    with transaction.atomic():
        items = {i.sku: i for i in StockItem.objects.select_for_update().filter(sku__in=sorted(wanted)).order_by("sku")}
        if Reservation.objects.filter(order_id=order_id).exists():
            return
        for sku, quantity in wanted.items():
            available = items[sku].available if sku in items else 0
            if quantity > available:
                reason = f"Not enough stock of '{sku}': {quantity} requested, {available} available."
                signals.stock_reservation_failed.send(sender=StockItem, order_id=order_id, reason=reason)
                return
        now = timezone.now()
        for sku, quantity in wanted.items():
            items[sku].reserved += quantity
            items[sku].updated_at = now
        StockItem.objects.bulk_update([items[sku] for sku in wanted], ["reserved", "updated_at"])
        Reservation.objects.bulk_create(Reservation(order_id=order_id, sku=s, quantity=q) for s, q in wanted.items())
        signals.stock_reserved.send(sender=StockItem, order_id=order_id)


def order_decide(*, order_id: int, confirmed: bool, reason: str = "") -> None:
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != "pending":
            return
        order.status = "confirmed" if confirmed else "cancelled"
        order.cancel_reason = reason
        order.save(update_fields=["status", "cancel_reason"])
        if confirmed:
            signals.order_confirmed.send(
                sender=Order, order_id=order.pk, customer_email=order.customer_email, total_cents=order.total_cents
            )
        else:
            signals.order_cancelled.send(
                sender=Order, order_id=order.pk, customer_email=order.customer_email, reason=reason
            )


def email_send(*, event_id: object, recipient: str, subject: str, body: str) -> None:
    try:
        with transaction.atomic():
            SentEmail.objects.create(event_id=event_id, recipient=recipient, subject=subject, body=body)
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient])
    except IntegrityError:
        return
