"""The simulated provider's own records: what it did (Operation), what it answered to each
idempotency key (IdempotentRequest), and the faults it is told to inject (Faults)."""

from django.db import models


class Operation(models.Model):
    """A charge (a PaymentIntent, confirmed and captured at once) or a refund of one."""

    class Kind(models.TextChoices):
        CHARGE = "charge"
        REFUND = "refund"

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.CharField(primary_key=True, max_length=40)  # pi_... or re_..., as Stripe names them
    kind = models.CharField(max_length=6, choices=Kind)
    status = models.CharField(max_length=9, choices=Status)
    # In the currency's smallest unit (cents), as Stripe's API counts.
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3)
    decline_code = models.CharField(max_length=50, blank=True)
    order_id = models.CharField(max_length=100, blank=True, db_index=True)
    metadata = models.JSONField(default=dict)
    payment_intent = models.ForeignKey("self", null=True, on_delete=models.PROTECT, related_name="refunds")
    idempotency_key = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.kind} {self.id} {self.status}"


class IdempotentRequest(models.Model):
    """The first request made with a key, and the answer it got (none yet: in flight)."""

    key = models.CharField(primary_key=True, max_length=255)
    endpoint = models.CharField(max_length=100)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.endpoint} {self.key} ({self.status_code or 'in flight'})"


class Faults(models.Model):
    """The one row of injected faults (POST /_faults), shared by every worker."""

    error_rate = models.FloatField(default=0.0)
    timeout_rate = models.FloatField(default=0.0)
    latency_ms = models.PositiveIntegerField(default=0)
    # How late a "timeout" answers: after the client has given up on it.
    late_ms = models.PositiveIntegerField(default=3000)

    def __str__(self):
        return f"errors {self.error_rate}, timeouts {self.timeout_rate}, latency {self.latency_ms} ms"
