"""The shop's models, as in ``modules/*/models.py``, in one app (so one database)."""

from django.db import models
from django.utils import timezone


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    price_cents = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class StockItem(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    on_hand = models.PositiveIntegerField(default=0)
    reserved = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.sku}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class Reservation(models.Model):
    order_id = models.BigIntegerField(db_index=True)
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order_id", "sku"], name="plainshop_one_reservation")]

    def __str__(self) -> str:
        return f"order {self.order_id}: {self.quantity} x {self.sku}"


class Order(models.Model):
    customer_email = models.EmailField(db_index=True)
    status = models.CharField(max_length=16, default="pending")
    total_cents = models.PositiveBigIntegerField()
    cancel_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"order {self.pk} ({self.status})"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    unit_price_cents = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "sku"], name="plainshop_one_line_per_sku")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class SentEmail(models.Model):
    recipient = models.EmailField(db_index=True)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    event_id = models.UUIDField(unique=True)
    sent_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.subject!r} to {self.recipient}"
