"""Emails to customers, one per order outcome.

Each handler takes the envelope too: its id identifies the event across redeliveries, which is
what makes sending idempotent.
"""

from contracts.kernel import Envelope, subscribe
from contracts.orders import OrderCancelled, OrderConfirmed

from . import services


def euros(cents: int) -> str:
    return f"€{cents // 100}.{cents % 100:02d}"


@subscribe(OrderConfirmed)
def email_order_confirmation(event: OrderConfirmed, envelope: Envelope) -> None:
    services.email_send(
        event_id=envelope.id,
        recipient=event.customer_email,
        subject=f"Your order #{event.order_id} is confirmed",
        body=f"Thank you for your order #{event.order_id}. Total: {euros(event.total_cents)}. It will ship soon.",
    )


@subscribe(OrderCancelled)
def email_order_cancellation(event: OrderCancelled, envelope: Envelope) -> None:
    services.email_send(
        event_id=envelope.id,
        recipient=event.customer_email,
        subject=f"Your order #{event.order_id} was cancelled",
        body=f"We are sorry: your order #{event.order_id} was cancelled. {event.reason} You have not been charged.",
    )
