"""Payments: one per order, charged through the card gateway once the stock is held.

A payment learns the amount and card from OrderCreated and that stock is held from
InventoryReserved; the two arrive on different topics in either order, and the charge happens
when both are known (and the order was not cancelled or failed meanwhile). A charge or a refund
is first committed as an intent (charging, refunding), then sent to the gateway outside any
transaction, then its outcome recorded: payments/state.py has the states and their keys.
"""

from django.contrib.postgres.indexes import BrinIndex
from django.db import models

from events.ids import new_id


class Payment(models.Model):
    class Status(models.TextChoices):
        # Waiting for the order's details, for its stock to be held, or both.
        PENDING = "pending"
        # Committed to charge: the gateway has been, or is about to be, asked (outcome unknown).
        CHARGING = "charging"
        CAPTURED = "captured"
        DECLINED = "declined"
        # Committed to refund a capture: the gateway has been, or is about to be, asked.
        REFUNDING = "refunding"
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
    # The gateway's id of the charge (a PaymentIntent's pi_...) and of its refund (re_...).
    gateway_reference = models.CharField(max_length=100, blank=True)
    refund_reference = models.CharField(max_length=100, blank=True)
    # The order ended (cancelled, or failed elsewhere) while its charge was in flight: whatever
    # the gateway answers, the order is not to keep the money.
    order_ended = models.BooleanField(default=False)
    # When the gateway was last asked about the open intent and gave no answer (a timeout, an
    # error): the periodic retry waits PAYMENTS_INTENT_RETRY_SECONDS from here.
    attempted_at = models.DateTimeField(null=True, blank=True)
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
            # The open intents, for their periodic retry: few at any time, among millions.
            models.Index(
                fields=["updated_at"],
                condition=models.Q(status__in=["charging", "refunding"]),
                name="payments_payment_intents",
            ),
        ]

    def __str__(self):
        return f"payment {self.payment_id} for order {self.order_id} ({self.status})"
