"""An event forwarded over Celery costs its receiver the statements it costs co-located, no more.

Like with like, for the two hops of an order that a Celery-extracted shop forwards: inventory's
``reserve_stock_for_placed_order`` on ``OrderPlaced`` (the inventory worker), and orders'
``confirm_order_when_stock_reserved`` on ``StockReserved`` (the monolith worker, whose
``OrderConfirmed`` is e-mailed in the same process). Each is run (a) as the co-located delivery
runs it (``handle_once`` on the envelope) and (b) as the worker's task runs it
(``seams.receive_event`` called in-process with a real service token: the token check, the
envelope rebuilt and validated, the inbox, the handler), with the module it publishes to bound to
a transport, so that the event it publishes is forwarded after its commit in both. Both must run
the same statements, in the same order, in the same transactions, on every database alias: the
receiving task adds no query of its own (no per-task health check, no settings or bindings read
from the database, no completion in a transaction of its own). Measured on PostgreSQL at e43e7cf:
inventory 7 = 7 statements (1 transaction), orders 10 = 10 (2 transactions); CPU per event the
same within the host's noise (a/b interleaved, 150 events: 4.06/3.94 ms and 4.30/4.05 ms).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext, override_settings

from contracts.kernel.events import Envelope, declared_events
from contracts.kernel.outbox.completions import deferred
from contracts.kernel.outbox.inbox import handle_once, local_subscriber
from extraction.celery.tasks import receive_forwarded_event
from modules.inventory.models import StockItem
from modules.orders.models import Order
from tests.support.identity import service_token

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

RESERVE = "modules.inventory.handlers.reserve_stock_for_placed_order"
CONFIRM = "modules.orders.handlers.confirm_order_when_stock_reserved"


class AnsweringTransport:
    """A transport whose receiver always answers "completed": the forward after the commit runs
    the sender's side of the outbox and nothing of a broker."""

    @staticmethod
    def forward_event(*, binding: dict[str, Any], subscriber: str, envelope: dict[str, Any]) -> str:
        return "completed"


def bound_elsewhere(*modules: str) -> Any:
    from django.conf import settings

    transports = {**settings.SEAMS_TRANSPORTS, "answering": f"{__name__}.AnsweringTransport"}
    return override_settings(
        SEAMS_TRANSPORTS=transports, SEAMS_BINDINGS={m: {"TRANSPORT": "answering"} for m in modules}
    )


def wire(event_type: str, key: int, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "version": 1,
        "key": str(key),
        "payload": payload,
        "headers": {},
        "occurred_at": datetime.now(UTC).isoformat(),
    }


def colocated(subscriber: str, envelope: dict[str, Any]) -> Callable[[], str]:
    local = local_subscriber(envelope["type"], subscriber)
    event = declared_events[(envelope["type"], 1)].model_validate(envelope["payload"])
    built = Envelope(
        event=event,
        id=uuid.UUID(envelope["id"]),
        occurred_at=datetime.fromisoformat(envelope["occurred_at"]),
        key=envelope["key"],
        headers={},
    )
    return lambda: handle_once(local, built)


def over_celery(module: str, subscriber: str, envelope: dict[str, Any], publisher: str) -> Callable[[], str]:
    token = service_token(publisher, module)
    return lambda: receive_forwarded_event(module, subscriber, envelope, token=token)["outcome"]


LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def statements(run: Callable[[], str]) -> tuple[str, list[tuple[str, str]]]:
    """The outcome, and every statement run on any alias (literals masked: ids, times, payloads)."""
    deferred.flush()  # marks kept from an earlier event are written now, outside the count
    with ExitStack() as stack:
        captured = {alias: stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in connections}
        outcome = run()
    deferred.flush()
    return outcome, [(alias, LITERALS.sub("?", q["sql"])) for alias, c in captured.items() for q in c.captured_queries]


def test_a_forwarded_order_placed_costs_inventory_what_it_costs_co_located() -> None:
    for n in range(3):
        StockItem.objects.using("inventory").create(sku=f"PARITY-{n}", on_hand=10)

    def placed(order_id: int) -> dict[str, Any]:
        lines = [{"sku": f"PARITY-{order_id % 3}", "quantity": 1}]
        return wire("orders.OrderPlaced", order_id, {"order_id": order_id, "customer_email": "a@example.com", "lines": lines, "total_cents": 100})

    with bound_elsewhere("orders", "notifications"):
        over_celery("inventory", RESERVE, placed(1), "orders")()  # the first delivery of a process prepares its statements
        colocated(RESERVE, placed(2))()
        inline = statements(colocated(RESERVE, placed(3)))
        received = statements(over_celery("inventory", RESERVE, placed(4), "orders"))
    assert inline[0] == received[0] == "completed"
    assert received[1] == inline[1]
    assert {alias for alias, _ in inline[1]} == {"inventory"}
    assert len(inline[1]) >= 4  # the inbox, the stock, the reservation, the publication


def test_a_forwarded_stock_reserved_costs_the_monolith_what_it_costs_co_located() -> None:
    orders = [Order.objects.using("orders").create(customer_email="a@example.com", total_cents=100).pk for _ in range(4)]

    def reserved(order_id: int) -> dict[str, Any]:
        return wire("inventory.StockReserved", order_id, {"order_id": order_id, "lines": [{"sku": "PARITY-0", "quantity": 1}]})

    with bound_elsewhere("inventory", "catalog"):
        over_celery("orders", CONFIRM, reserved(orders[0]), "inventory")()
        colocated(CONFIRM, reserved(orders[1]))()
        inline = statements(colocated(CONFIRM, reserved(orders[2])))
        received = statements(over_celery("orders", CONFIRM, reserved(orders[3]), "inventory"))
    assert inline[0] == received[0] == "completed"
    assert received[1] == inline[1]
    assert {alias for alias, _ in inline[1]} == {"orders", "notifications"}  # OrderConfirmed e-mailed inline
    assert Order.objects.using("orders").filter(pk__in=orders, status="confirmed").count() == 4
