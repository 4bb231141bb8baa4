from django.db import models


class StockItem(models.Model):
    """How many units of a SKU are on the shelf, and how many of those are promised to orders."""

    sku = models.CharField(max_length=64, unique=True)
    on_hand = models.PositiveIntegerField(default=0)
    reserved = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            # The last line of defence against overselling; services check it first, with a clear error.
            models.CheckConstraint(
                condition=models.Q(reserved__lte=models.F("on_hand")), name="inventory_reserved_lte_on_hand"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class Reservation(models.Model):
    """Units of one SKU held for one order. ``order_id`` is the orders module's id, not a foreign key."""

    order_id = models.BigIntegerField(db_index=True)
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order_id", "sku"]
        constraints = [
            models.UniqueConstraint(fields=["order_id", "sku"], name="inventory_one_reservation_per_order_sku")
        ]

    def __str__(self) -> str:
        return f"order {self.order_id}: {self.quantity} x {self.sku}"
