"""How inventory reacts to other modules' events.

Each handler runs in its own transaction on the inventory database, so the event published here
leaves only if the reservation it reports commits.
"""

from contracts.inventory import StockReservationFailed, StockReserved
from contracts.kernel import atomic, publish, subscribe
from contracts.orders import OrderPlaced

from . import services


@subscribe(OrderPlaced)
def reserve_stock_for_placed_order(event: OrderPlaced) -> None:
    """Hold the order's stock and tell orders whether it may confirm. A shortage is a business
    outcome (the order is cancelled), not a handler failure, so it is published, not raised.

    One transaction, no savepoint: the reservation and the event that reports it commit together
    (the handler already runs in a transaction of its own, with its inbox row)."""
    with atomic(savepoint=False):
        try:
            reserved = services.stock_reserve_for_order(
                order_id=event.order_id, lines=[(line.sku, line.quantity) for line in event.lines]
            )
        except services.InsufficientStock as shortage:
            publish(
                StockReservationFailed(order_id=event.order_id, reason=shortage.message, sku=shortage.details["sku"])
            )
            return
        publish(StockReserved(order_id=event.order_id, lines=reserved))
