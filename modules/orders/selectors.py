"""Orders queries (reads)."""

from contracts.orders import OrderDTO, OrderNotFound

from .models import Order
from .services import to_dto


def order_get(order_id: int) -> OrderDTO:
    try:
        return to_dto(Order.objects.prefetch_related("lines").get(pk=order_id))
    except Order.DoesNotExist:
        raise OrderNotFound(f"No order has id {order_id}.", order_id=order_id) from None


def order_status(order_id: int) -> str:
    """Only the status (one small query): what the API reads back after placing an order, whose
    lines and total it already holds."""
    status = Order.objects.filter(pk=order_id).values_list("status", flat=True).first()
    if status is None:
        raise OrderNotFound(f"No order has id {order_id}.", order_id=order_id)
    return str(status)


def order_get_for_customer(order_id: int, *, customer_email: str) -> OrderDTO:
    """The order if it belongs to ``customer_email``; OrderNotFound otherwise, exactly as for an
    id that does not exist (the public API must not tell which ids are taken)."""
    try:
        order = Order.objects.prefetch_related("lines").get(pk=order_id, customer_email__iexact=customer_email)
    except Order.DoesNotExist:
        raise OrderNotFound(f"No order has id {order_id}.", order_id=order_id) from None
    return to_dto(order)
