"""Orders business logic (writes)."""

from collections.abc import Sequence

from contracts.catalog import MAX_PRICE_CENTS, Catalog, ProductNotFound
from contracts.kernel import Conflict, Invalid, atomic, publish, use
from contracts.orders import (
    OrderCancelled,
    OrderConfirmed,
    OrderDTO,
    OrderedItem,
    OrderLineDTO,
    OrderNotFound,
    OrderPlaced,
)

from .models import Order, OrderLine

#: Order totals are stored in a 64-bit column.
MAX_TOTAL_CENTS = 2**63 - 1


class OrderNotPending(Conflict):
    """The order was already confirmed or cancelled; its outcome cannot change."""


def order_place(*, customer_email: str, lines: Sequence[tuple[str, int]]) -> OrderDTO:
    """Price the lines with the catalog, store a pending order and announce it (OrderPlaced).

    Lines naming the same SKU are merged, their quantities added: asking twice for a keyboard
    means two keyboards, and refusing would push that bookkeeping onto every client. An unknown
    SKU is ``Invalid`` naming the first input line that holds it (``lines.<i>.sku``), so the API
    answers 422 pointing at the field. The order and its event commit together or not at all.

    Returns the order as placed (pending). Inventory answers the event after the commit; with
    in-process delivery that has already happened when this returns, so read the order again
    to show its outcome.
    """
    if not lines:
        raise Invalid("An order needs at least one line.", field=["payload", "lines"])
    first_index: dict[str, int] = {}
    quantities: dict[str, int] = {}
    for index, (sku, quantity) in enumerate(lines):
        if quantity <= 0:
            raise Invalid("Quantity must be at least 1.", field=["payload", "lines", index, "quantity"])
        first_index.setdefault(sku, index)
        quantities[sku] = quantities.get(sku, 0) + quantity
    try:
        products = use(Catalog).get_products(list(quantities))
    except ProductNotFound as exc:
        sku = exc.details.get("sku")
        where: list[str | int] = (
            ["payload", "lines", first_index[sku], "sku"] if sku in first_index else ["payload", "lines"]
        )
        raise Invalid(exc.message, field=where) from exc
    prices = {p.sku: p.price_cents for p in products}
    for sku, price in prices.items():
        # A price the columns cannot hold (one stored before the API bounded prices) refuses this
        # line with a 422 instead of failing every order for the product with a 500.
        if not 0 <= price <= MAX_PRICE_CENTS:
            where = ["payload", "lines", first_index.get(sku, 0), "sku"]
            raise Invalid(f"Product '{sku}' has a price this shop cannot charge; it is not for sale.", field=where)
    total = sum(prices[sku] * quantity for sku, quantity in quantities.items())
    if total > MAX_TOTAL_CENTS:
        raise Invalid("The order's total is larger than this shop can record.", field=["payload", "lines"])
    with atomic():
        order = Order.objects.create(customer_email=customer_email, total_cents=total)
        order_lines = OrderLine.objects.bulk_create(
            OrderLine(order=order, sku=sku, quantity=quantity, unit_price_cents=prices[sku])
            for sku, quantity in quantities.items()
        )
        publish(
            OrderPlaced(
                order_id=order.pk,
                customer_email=customer_email,
                lines=[OrderedItem(sku=sku, quantity=quantity) for sku, quantity in quantities.items()],
                total_cents=total,
            )
        )
    return to_dto(order, order_lines)


def order_confirm(*, order_id: int) -> Order:
    """Pending -> confirmed, announced with OrderConfirmed. Confirming a confirmed order does
    nothing (events may arrive twice); confirming a cancelled one is OrderNotPending.

    No savepoint: inside a caller's transaction (the event handler's, with its inbox row) a failure
    fails the whole transaction anyway; the business refusal is raised after the block, so it
    leaves the caller's transaction usable. Returns the order row (the handler needs nothing more,
    so no lines are read for a DTO).
    """
    with atomic(savepoint=False):
        order = _locked(order_id)
        if order.status == Order.Status.PENDING:
            order.status = Order.Status.CONFIRMED
            order.save(update_fields=["status"])
            publish(
                OrderConfirmed(order_id=order.pk, customer_email=order.customer_email, total_cents=order.total_cents)
            )
    if order.status != Order.Status.CONFIRMED:
        raise OrderNotPending(f"Order {order_id} is {order.status}; it cannot be confirmed.", order_id=order_id)
    return order


def order_cancel(*, order_id: int, reason: str) -> Order:
    """Pending -> cancelled, announced with OrderCancelled. Cancelling a cancelled order does
    nothing (events may arrive twice); cancelling a confirmed one is OrderNotPending. Transaction
    and return value as in ``order_confirm``."""
    with atomic(savepoint=False):
        order = _locked(order_id)
        if order.status == Order.Status.PENDING:
            order.status = Order.Status.CANCELLED
            order.cancel_reason = reason
            order.save(update_fields=["status", "cancel_reason"])
            publish(OrderCancelled(order_id=order.pk, customer_email=order.customer_email, reason=order.cancel_reason))
    if order.status != Order.Status.CANCELLED:
        raise OrderNotPending(f"Order {order_id} is {order.status}; it cannot be cancelled.", order_id=order_id)
    return order


def _locked(order_id: int) -> Order:
    """The order, locked until the transaction ends, so two outcomes cannot race each other."""
    try:
        return Order.objects.select_for_update().get(pk=order_id)
    except Order.DoesNotExist:
        raise OrderNotFound(f"No order has id {order_id}.", order_id=order_id) from None


def to_dto(order: Order, lines: Sequence[OrderLine] | None = None) -> OrderDTO:
    return OrderDTO(
        id=order.pk,
        customer_email=order.customer_email,
        status=str(order.status),
        total_cents=order.total_cents,
        lines=[
            OrderLineDTO(sku=line.sku, quantity=line.quantity, unit_price_cents=line.unit_price_cents)
            for line in (order.lines.all() if lines is None else lines)
        ],
    )
