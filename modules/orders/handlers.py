"""How orders reacts to the inventory's answer to OrderPlaced: the order's outcome."""

from contracts.inventory import StockReservationFailed, StockReserved
from contracts.kernel import subscribe

from . import services


@subscribe(StockReserved)
def confirm_order_when_stock_reserved(event: StockReserved) -> None:
    services.order_confirm(order_id=event.order_id)


@subscribe(StockReservationFailed)
def cancel_order_when_stock_reservation_failed(event: StockReservationFailed) -> None:
    services.order_cancel(order_id=event.order_id, reason=event.reason)
