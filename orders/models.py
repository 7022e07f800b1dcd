"""Orders: what customers asked for and where each order stands in its saga; and a read-only
catalog of products and prices, kept from the inventory service's events (a CQRS read model),
so placing an order never calls another service."""

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q

from events.ids import new_id


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    order_id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    # Changed only through orders/state.py.
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    total_amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    failure_reason = models.CharField(max_length=50, blank=True)
    # The aggregate's version: the sequence of its latest event.
    version = models.PositiveBigIntegerField(default=1)
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001 - NULL is "no key"
    # sha256 of the request body the key was first used with.
    request_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        # Cancelling compensates stock and payment: more than "change" says (a support action).
        permissions = [("cancel_order", "Can cancel an order (its stock and payment are compensated)")]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="orders_one_order_per_idempotency_key",
            )
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="orders_by_customer"),
            models.Index(fields=["created_at"], condition=Q(status="pending"), name="orders_pending_by_age"),
            # The sweep's window of changed orders (the internal API): BRIN, rows are written and
            # rewritten in time order; a btree would cost an entry per change.
            BrinIndex(fields=["updated_at"], name="orders_order_updated"),
        ]

    def __str__(self):
        return f"order {self.order_id} ({self.status})"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.quantity} x {self.sku}"


class OrderStatusChange(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="history")
    status = models.CharField(max_length=10, choices=Order.Status)
    reason = models.CharField(max_length=50, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.status} at {self.at:%Y-%m-%d %H:%M:%S}"


class CatalogProduct(models.Model):
    """The orders service's copy of a product, from ProductUpdated events. Read-only here."""

    sku = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    # The sequence of the last ProductUpdated applied: an older event never overwrites a newer one.
    version = models.PositiveBigIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]

    def __str__(self):
        return f"{self.sku} ({self.name})"
