"""The inventory module's published language: stock levels and the outcome of reserving stock."""

from typing import ClassVar

from contracts.kernel import Contract, Event, NotFound, Schema, query


class StockLevel(Schema):
    sku: str
    on_hand: int
    reserved: int
    available: int


class ReservedItem(Schema):
    """One line of a reservation. Declared here rather than borrowed from contracts/orders.py so
    that inventory's published language depends on no other module's."""

    sku: str
    quantity: int


class StockNotFound(NotFound):
    """No stock is recorded for this SKU."""


class Inventory(Contract):
    """What the inventory offers to other modules."""

    @query
    def get_stock(self, sku: str) -> StockLevel:
        """The stock level of this SKU; raises StockNotFound when none was ever recorded."""
        ...


class StockReserved(Event):
    """Every line of an order is now held for it."""

    version: ClassVar[int] = 1
    key_field: ClassVar[str] = "order_id"
    order_id: int
    lines: list[ReservedItem]


class StockReservationFailed(Event):
    """An order could not be reserved; nothing was held for any of its lines."""

    version: ClassVar[int] = 1
    key_field: ClassVar[str] = "order_id"
    order_id: int
    reason: str
    sku: str
