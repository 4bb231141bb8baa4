from django.db import models


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        CONFIRMED = "confirmed"
        CANCELLED = "cancelled"

    customer_email = models.EmailField(db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    #: The sum of the lines at the prices of the moment the order was placed.
    total_cents = models.PositiveBigIntegerField()
    cancel_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"order {self.pk} ({self.status}) for {self.customer_email}"


class OrderLine(models.Model):
    """One SKU of an order. ``sku`` refers to the catalog by value: modules share no foreign keys,
    and the price is copied so that a later price change does not rewrite past orders."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    unit_price_cents = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["order", "sku"], name="orders_one_line_per_sku")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku} @ {self.unit_price_cents}"
