"""Inventory: products and their stock, reservations for orders, and the audit of every change.

Stock changes only through inventory/services.py, which records a StockMovement and publishes
ProductUpdated for each. The database itself refuses to hold more than it has on hand.
"""

from django.contrib.postgres.indexes import BrinIndex
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q


class Product(models.Model):
    sku = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    # Units on hand, and how many of them are held for orders not yet paid.
    stock_quantity = models.PositiveIntegerField()
    reserved_quantity = models.PositiveIntegerField(default=0)
    # The aggregate's version: the sequence of its latest ProductUpdated event.
    version = models.PositiveBigIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reserved_quantity__lte=F("stock_quantity")), name="inventory_never_oversold"
            )
        ]

    def __str__(self):
        return f"{self.sku} ({self.name})"

    @property
    def available(self) -> int:
        return self.stock_quantity - self.reserved_quantity


class StockMovement(models.Model):
    """One audited change of a product's stock or reservations."""

    class Kind(models.TextChoices):
        SET = "set", "stock set"
        ADJUST = "adjust", "stock adjusted"
        RESERVE = "reserve", "held for an order"
        RELEASE = "release", "released from an order"
        COMMIT = "commit", "shipped to an order"

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=10, choices=Kind)
    stock_change = models.IntegerField(default=0)
    reserved_change = models.IntegerField(default=0)
    stock_after = models.PositiveIntegerField()
    reserved_after = models.PositiveIntegerField()
    order_id = models.CharField(max_length=64, blank=True, db_index=True)
    reason = models.CharField(max_length=200, blank=True)
    actor = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        # BRIN: movements are written in time order; a btree would cost an entry per movement.
        indexes = [BrinIndex(fields=["created_at"], name="inventory_movement_created")]

    def __str__(self):
        return (
            f"{self.product_id}: {self.get_kind_display()} ({self.stock_change:+d}/{self.reserved_change:+d})"
        )


class Reservation(models.Model):
    class Status(models.TextChoices):
        HELD = "held"
        COMMITTED = "committed"
        RELEASED = "released"

    order_id = models.CharField(max_length=64, primary_key=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.HELD, db_index=True)
    # [{"sku", "quantity", "unit_price"}] as the order asked for them.
    lines = models.JSONField()
    version = models.PositiveBigIntegerField(default=1)
    release_reason = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        # Releasing puts units back on sale: its own permission, not "change" (a support action).
        permissions = [("release_reservation", "Can release a reservation (its units go back to stock)")]
        indexes = [
            BrinIndex(fields=["created_at"], name="inventory_reservation_created"),
            # The sweep's window of changed reservations (the internal API).
            BrinIndex(fields=["updated_at"], name="inventory_reservation_updated"),
        ]

    def __str__(self):
        return f"reservation {self.order_id} ({self.status})"
