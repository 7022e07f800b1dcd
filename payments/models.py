"""Payments: one per order, charged through the card gateway once the stock is held.

A payment learns the amount and card from OrderCreated and that stock is held from
InventoryReserved; the two arrive on different topics in either order, and the charge happens
when both are known (and the order was not cancelled or failed meanwhile).
"""

from django.contrib.postgres.indexes import BrinIndex
from django.db import models

from events.ids import new_id


class Payment(models.Model):
    class Status(models.TextChoices):
        # Waiting for the order's details, for its stock to be held, or both.
        PENDING = "pending"
        CAPTURED = "captured"
        DECLINED = "declined"
        REFUNDED = "refunded"
        # The order ended (cancelled, failed elsewhere) before it was charged: it never will be.
        VOIDED = "voided"

    payment_id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    order_id = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING, db_index=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    # The card token from the order (a test-card token; never a card number).
    card_token = models.CharField(max_length=64, blank=True)
    stock_held = models.BooleanField(default=False)
    gateway_reference = models.CharField(max_length=100, blank=True)
    failure_reason = models.CharField(max_length=100, blank=True)
    version = models.PositiveBigIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        # Refunding moves money: its own permission, not "change" (a support action).
        permissions = [("refund_payment", "Can refund a captured payment")]
        # BRIN: payments are created in time order; a btree would cost an entry per payment.
        indexes = [
            BrinIndex(fields=["created_at"], name="payments_payment_created"),
            # The sweep's window of changed payments (the internal API).
            BrinIndex(fields=["updated_at"], name="payments_payment_updated"),
        ]

    def __str__(self):
        return f"payment {self.payment_id} for order {self.order_id} ({self.status})"


class GatewayCharge(models.Model):
    """The simulated gateway's own ledger: one charge per idempotency key, as a real gateway keeps."""

    idempotency_key = models.CharField(max_length=100, unique=True)
    reference = models.CharField(max_length=100, unique=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    approved = models.BooleanField()
    decline_code = models.CharField(max_length=50, blank=True)
    refunded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.reference} ({'approved' if self.approved else self.decline_code})"
