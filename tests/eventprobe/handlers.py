import time

from contracts.kernel import Envelope, subscribe
from contracts.orders import OrderPlaced

from .models import HandledEvent

#: How long the handler of an order by ``slow...@`` takes, inside its transaction (a slow handler).
SLOW_SECONDS = 0.3

#: Attempts per event id, across retries in this process (a failed attempt's writes roll back).
attempts: dict[str, int] = {}


class ProbeFailure(RuntimeError):
    """The failure the probe was asked to produce."""


@subscribe(OrderPlaced)
def record_order_placed(event: OrderPlaced, envelope: Envelope) -> None:
    count = attempts[str(envelope.id)] = attempts.get(str(envelope.id), 0) + 1
    if event.customer_email.startswith("doomed"):
        raise ProbeFailure(f"doomed attempt {count}")
    if event.customer_email.startswith("once") and count <= 1:
        raise ProbeFailure(f"once attempt {count}")
    if event.customer_email.startswith("flaky") and count <= 2:
        raise ProbeFailure(f"flaky attempt {count}")
    if event.customer_email.startswith("slow"):
        time.sleep(SLOW_SECONDS)
    HandledEvent.objects.create(event_id=envelope.id, customer_email=event.customer_email)
