"""The orders module's implementation of its contract: a thin adapter over selectors."""

from contracts.kernel import implements
from contracts.orders import OrderDTO, Orders

from . import selectors


@implements(Orders)
class OrdersImplementation(Orders):
    def get_order(self, order_id: int) -> OrderDTO:
        return selectors.order_get(order_id)
