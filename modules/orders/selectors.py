"""Orders queries (reads)."""

from contracts.orders import OrderDTO, OrderNotFound

from .models import Order
from .services import to_dto


def order_get(order_id: int) -> OrderDTO:
    try:
        return to_dto(Order.objects.prefetch_related("lines").get(pk=order_id))
    except Order.DoesNotExist:
        raise OrderNotFound(f"No order has id {order_id}.", order_id=order_id) from None
