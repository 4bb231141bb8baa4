"""Each step's receiver defers its work until the sender's transaction commits (``on_commit``),
then calls the next step directly: what the Seams shop's events do, without the outbox."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction
from django.dispatch import receiver

from . import services, signals


def euros(cents: int) -> str:
    return f"€{cents // 100}.{cents % 100:02d}"


@receiver(signals.order_placed)
def reserve_stock(sender: Any, order_id: int, lines: list[tuple[str, int]], **_: Any) -> None:
    transaction.on_commit(lambda: services.stock_reserve_for_order(order_id=order_id, lines=lines))


@receiver(signals.stock_reserved)
def confirm_order(sender: Any, order_id: int, **_: Any) -> None:
    transaction.on_commit(lambda: services.order_decide(order_id=order_id, confirmed=True))


@receiver(signals.stock_reservation_failed)
def cancel_order(sender: Any, order_id: int, reason: str, **_: Any) -> None:
    transaction.on_commit(lambda: services.order_decide(order_id=order_id, confirmed=False, reason=reason))


@receiver(signals.order_confirmed)
def email_confirmation(sender: Any, order_id: int, customer_email: str, total_cents: int, **_: Any) -> None:
    event_id = uuid.uuid4()
    transaction.on_commit(
        lambda: services.email_send(
            event_id=event_id,
            recipient=customer_email,
            subject=f"Your order #{order_id} is confirmed",
            body=f"Thank you for your order #{order_id}. Total: {euros(total_cents)}. It will ship soon.",
        )
    )


@receiver(signals.order_cancelled)
def email_cancellation(sender: Any, order_id: int, customer_email: str, reason: str, **_: Any) -> None:
    event_id = uuid.uuid4()
    transaction.on_commit(
        lambda: services.email_send(
            event_id=event_id,
            recipient=customer_email,
            subject=f"Your order #{order_id} was cancelled",
            body=f"We are sorry: your order #{order_id} was cancelled. {reason} You have not been charged.",
        )
    )
