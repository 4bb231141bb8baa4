"""Orders queries (reads)."""

from contracts.orders import OrderDTO, OrderNotFound

from .models import Order
from .services import to_dto


def order_get(order_id: int) -> OrderDTO:
    try:
        return to_dto(Order.objects.prefetch_related("lines").get(pk=order_id))
    except Order.DoesNotExist:
        raise OrderNotFound(f"No order has id {order_id}.", order_id=order_id) from None


def order_get_for_customer(order_id: int, *, customer_email: str) -> OrderDTO:
    """The order if it belongs to ``customer_email``; OrderNotFound otherwise, exactly as for an
    id that does not exist (the public API must not tell which ids are taken)."""
    try:
        order = Order.objects.prefetch_related("lines").get(pk=order_id, customer_email__iexact=customer_email)
    except Order.DoesNotExist:
        raise OrderNotFound(f"No order has id {order_id}.", order_id=order_id) from None
    return to_dto(order)
