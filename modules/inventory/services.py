"""Inventory business logic (writes)."""

from collections.abc import Iterable

from django.db import IntegrityError, connections
from django.utils import timezone

from contracts.catalog import Catalog
from contracts.inventory import ReservedItem, StockLevel
from contracts.kernel import Conflict, Invalid, atomic, use

from .models import Reservation, StockItem


class StockBelowReserved(Conflict):
    """On-hand stock cannot drop below what is already reserved for orders."""


class InsufficientStock(Conflict):
    """Not enough stock is available to reserve every line of an order."""


def stock_set(*, sku: str, quantity: int) -> StockLevel:
    """Record that ``quantity`` units of ``sku`` are on hand (a stock count, not a delta).

    Only catalog products can be stocked (ProductNotFound otherwise), so that orders never reserve a
    SKU nobody sells. Reserved units are promised to orders; a count below them is refused.
    """
    if quantity < 0:
        raise Invalid("Stock cannot be negative.", field=["payload", "quantity"])
    use(Catalog).get_product(sku)
    with atomic():
        item, _ = StockItem.objects.select_for_update().get_or_create(sku=sku)
        if quantity < item.reserved:
            raise StockBelowReserved(
                f"Cannot set stock of '{sku}' to {quantity}: {item.reserved} units are reserved for orders.",
                sku=sku,
                reserved=item.reserved,
            )
        item.on_hand = quantity
        item.save(update_fields=["on_hand", "updated_at"])
    return to_level(item)


def stock_reserve_for_order(*, order_id: int, lines: Iterable[tuple[str, int]]) -> list[ReservedItem]:
    """Hold stock for every line of an order, or for none of them (raises InsufficientStock).

    Idempotent per ``order_id``: an order that already holds its reservation gets it back
    unchanged, so a repeated call never reserves twice. The stock rows are locked in SKU order (two
    orders cannot deadlock, and cannot both take the last units). Duplicate SKUs among the lines
    are added together.

    Three statements whatever the number of lines (lock, one ``bulk_update``, one ``bulk_create``),
    no savepoint and no pre-check for an earlier reservation: the unique (order, SKU) constraint
    answers that at the insert. A repeat that finds the stock short, or that fails the constraint,
    reads what the order holds and returns it. Inside a caller's transaction (the event handler's,
    with its inbox row) a failed constraint has spoilt that transaction, so it is raised instead: the
    handler's attempt rolls back and its retry meets the inbox row of the delivery that reserved. A
    shortage is raised after the block, having written nothing, so the caller's transaction stays
    usable (the handler publishes StockReservationFailed in it).
    """
    wanted: dict[str, int] = {}
    for sku, quantity in lines:
        if quantity <= 0:
            raise Invalid(f"Cannot reserve {quantity} units of '{sku}'.", field="quantity")
        wanted[sku] = wanted.get(sku, 0) + quantity
    nested = connections[StockItem.objects.db].in_atomic_block
    shortage: InsufficientStock | None = None
    try:
        with atomic(savepoint=False):
            items = {i.sku: i for i in StockItem.objects.select_for_update().filter(sku__in=sorted(wanted)).order_by("sku")}
            shortage = _first_shortage(wanted, items)
            if shortage is None:
                now = timezone.now()  # bulk_update does not apply auto_now
                for sku, quantity in wanted.items():
                    items[sku].reserved += quantity
                    items[sku].updated_at = now
                StockItem.objects.bulk_update([items[sku] for sku in wanted], ["reserved", "updated_at"])
                Reservation.objects.bulk_create(
                    Reservation(order_id=order_id, sku=s, quantity=q) for s, q in wanted.items()
                )
    except IntegrityError:
        if nested:
            raise
        return _held_by(order_id)  # a concurrent or earlier call reserved for this order
    if shortage is not None:
        held = _held_by(order_id)  # a repeat, after the order's own reservation took the stock
        if held:
            return held
        raise shortage
    return [ReservedItem(sku=sku, quantity=quantity) for sku, quantity in wanted.items()]


def _first_shortage(wanted: dict[str, int], items: dict[str, StockItem]) -> InsufficientStock | None:
    for sku, quantity in wanted.items():
        available = items[sku].available if sku in items else 0
        if quantity > available:
            return InsufficientStock(
                f"Not enough stock of '{sku}': {quantity} requested, {available} available.",
                sku=sku,
                requested=quantity,
                available=available,
            )
    return None


def _held_by(order_id: int) -> list[ReservedItem]:
    return [ReservedItem(sku=r.sku, quantity=r.quantity) for r in Reservation.objects.filter(order_id=order_id).order_by("id")]


def to_level(item: StockItem) -> StockLevel:
    return StockLevel(sku=item.sku, on_hand=item.on_hand, reserved=item.reserved, available=item.available)
