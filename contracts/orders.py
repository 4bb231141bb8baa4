"""The orders module's published language: orders and their life cycle."""

from typing import ClassVar, Literal

from contracts.kernel import Contract, Event, NotFound, Schema, query

#: pending -> confirmed (stock reserved) or pending -> cancelled (it was not); nothing else.
OrderStatus = Literal["pending", "confirmed", "cancelled"]


class OrderLineDTO(Schema):
    sku: str
    quantity: int
    unit_price_cents: int


class OrderDTO(Schema):
    id: int
    customer_email: str
    status: OrderStatus
    total_cents: int
    lines: list[OrderLineDTO]


class OrderNotFound(NotFound):
    """No order has this id."""


class Orders(Contract):
    """What the orders module offers to other modules."""

    @query
    def get_order(self, order_id: int) -> OrderDTO:
        """The order with this id; raises OrderNotFound."""
        ...


class OrderedItem(Schema):
    sku: str
    quantity: int


class OrderPlaced(Event):
    """A customer placed an order; it waits, pending, for its stock."""

    version: ClassVar[int] = 1
    key_field: ClassVar[str] = "order_id"
    order_id: int
    customer_email: str
    lines: list[OrderedItem]
    total_cents: int


class OrderConfirmed(Event):
    """The stock of every line is reserved: the order will be fulfilled."""

    version: ClassVar[int] = 1
    key_field: ClassVar[str] = "order_id"
    order_id: int
    customer_email: str
    total_cents: int


class OrderCancelled(Event):
    """The order will not be fulfilled; ``reason`` says why, in words fit for the customer."""

    version: ClassVar[int] = 1
    key_field: ClassVar[str] = "order_id"
    order_id: int
    customer_email: str
    reason: str
