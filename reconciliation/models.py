"""Reconciliation: a cross-service view of every order's saga (a CQRS projection of the three
services' events), the divergences its audits find between the services, and how each was
resolved.

OrderSaga and SagaStep are written only by the projection (services/projection.py), Divergence
and DivergenceAction only by the sweep and the resolution services. None of them is ever edited
by hand: the admin is read-only but for its actions.
"""

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q


class OrderSaga(models.Model):
    """One order as the three services' events describe it."""

    order_id = models.CharField(max_length=64, primary_key=True)
    customer = models.CharField(max_length=150, blank=True, db_index=True)
    # orders service: pending, completed, failed, cancelled ("" until OrderCreated is seen).
    order_status = models.CharField(max_length=10, blank=True, db_index=True)
    order_version = models.PositiveBigIntegerField(default=0)
    failure_reason = models.CharField(max_length=50, blank=True)
    total_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    # inventory service: held, rejected, committed, released.
    reservation_status = models.CharField(max_length=10, blank=True)
    reservation_version = models.PositiveBigIntegerField(default=0)
    # payments service: captured, declined, refunded.
    payment_status = models.CharField(max_length=10, blank=True)
    payment_version = models.PositiveBigIntegerField(default=0)
    payment_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # When the order was placed, and when it reached its terminal status (OrderCreated's and the
    # terminal event's occurred_at).
    created_at = models.DateTimeField(null=True, blank=True, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Not indexed, like updated_at: they change with every event, and an update that changes no
    # indexed column is a HOT update (no index touched; the table's fillfactor leaves it room).
    last_event_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "order saga"
        # Failing an order refunds its payment and releases its stock: a money permission of its
        # own, not `change` (docs/operations.md, "Who may do what").
        permissions = [
            ("fail_ordersaga", "Can fail a pending order and compensate it (moves money and stock)")
        ]
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(order_status="pending"), name="recon_saga_pending"
            )
        ]

    def __str__(self):
        return f"order {self.order_id}"

    @property
    def completion_seconds(self) -> float | None:
        if self.created_at and self.ended_at:
            return (self.ended_at - self.created_at).total_seconds()
        return None


class SagaStep(models.Model):
    """One event of an order's saga, as the projection received it."""

    # No index of its own: recon_step_stream (saga, producer, sequence) serves every lookup by saga.
    saga = models.ForeignKey(OrderSaga, on_delete=models.CASCADE, related_name="steps", db_index=False)
    event_id = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=100)
    producer = models.CharField(max_length=50)
    sequence = models.PositiveBigIntegerField()
    occurred_at = models.DateTimeField()
    # The sweep audits the orders whose steps arrived since its previous run (BRIN: steps are
    # only inserted, in time order).
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["saga", "producer", "sequence"], name="recon_step_stream"),
            BrinIndex(fields=["received_at"], name="recon_step_received"),
        ]

    def __str__(self):
        return f"{self.event_type} #{self.sequence} from {self.producer}"


class Kind(models.TextChoices):
    COMPLETED_UNPAID = "completed_unpaid", "order completed without a captured payment"
    AMOUNT_MISMATCH = "amount_mismatch", "payment amount differs from the order total"
    CHARGED_NOT_COMPLETED = "charged_not_completed", "payment captured for a failed or cancelled order"
    HELD_FOR_ENDED_ORDER = "held_for_ended_order", "reservation still held for a failed or cancelled order"
    COMMITTED_NOT_COMPLETED = "committed_not_completed", "reservation committed but order not completed"
    COMPLETED_NOT_COMMITTED = "completed_not_committed", "order completed without a committed reservation"
    STUCK_ORDER = "stuck_order", "order pending longer than its SLA"
    NEGATIVE_STOCK = "negative_stock", "stock below zero"
    RESERVED_ABOVE_STOCK = "reserved_above_stock", "more units reserved than in stock"
    RESERVED_COUNT_MISMATCH = "reserved_count_mismatch", "reserved counter differs from held reservations"
    EVENT_GAP = "event_gap", "gap in an aggregate's event sequence"


class Severity(models.TextChoices):
    CRITICAL = "critical"
    WARNING = "warning"


class Fix(models.TextChoices):
    REFUND_PAYMENT = "refund_payment", "refund the payment"
    RELEASE_RESERVATION = "release_reservation", "release the reservation"
    COMMIT_RESERVATION = "commit_reservation", "commit the reservation"
    RECOUNT_RESERVED = "recount_reserved", "recount the reserved units"
    FAIL_ORDER = "fail_order", "fail the order and compensate"
    REDRIVE = "redrive", "re-drive the saga (republish its events)"
    MANUAL = "manual", "investigate by hand"


class RulePolicy(models.Model):
    """How divergences of one kind are handled; support staff edit these in the admin."""

    kind = models.CharField(max_length=40, choices=Kind, primary_key=True)
    enabled = models.BooleanField(default=True, help_text="Run this rule in sweeps.")
    automatic = models.BooleanField(
        default=False, help_text="Apply the suggested fix as soon as the divergence is found."
    )
    threshold_seconds = models.PositiveIntegerField(
        default=0, help_text="For stuck orders: how long an order may stay pending (its SLA)."
    )

    class Meta:
        ordering = ["kind"]
        verbose_name = "rule policy"
        verbose_name_plural = "rule policies"

    def __str__(self):
        return f"{self.get_kind_display()} ({'automatic' if self.automatic else 'manual'})"


class Divergence(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        AUTO_RESOLVED = "auto_resolved", "Auto-resolved"
        RESOLVED = "resolved"
        IGNORED = "ignored"

    kind = models.CharField(max_length=40, choices=Kind)
    severity = models.CharField(max_length=10, choices=Severity)
    status = models.CharField(max_length=15, choices=Status, default=Status.OPEN)
    # What diverged: "order <id>", "product <sku>", "order <id> events from <service>". One
    # divergence per subject and kind is open (or ignored) at a time.
    subject = models.CharField(max_length=200)
    order_id = models.CharField(max_length=64, blank=True, db_index=True)
    # [{"service", "type", "id"}] of the records involved.
    entities = models.JSONField(default=list)
    detail = models.TextField(help_text="What the audit saw.")
    suggested_fix = models.CharField(max_length=20, choices=Fix)
    # Each service's record and the projection's, as the last audit saw them.
    evidence = models.JSONField(default=dict)
    first_seen_at = models.DateTimeField(db_index=True)
    last_seen_at = models.DateTimeField()
    # When a fix was sent to the owning service, and whether the system sent it by itself.
    fix_requested_at = models.DateTimeField(null=True, blank=True)
    fix_automatic = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-first_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject"],
                condition=Q(status__in=["open", "ignored"]),
                name="recon_one_active_divergence",
            )
        ]
        indexes = [models.Index(fields=["status", "kind"], name="recon_divergence_status")]
        # A suggested fix refunds, cancels or releases: a money permission of its own, not `change`.
        permissions = [("fix_divergence", "Can apply a divergence's suggested fix (moves money or stock)")]

    def __str__(self):
        return f"#{self.pk} {self.get_kind_display()}: {self.subject}"


class DivergenceAction(models.Model):
    """The audit trail of a divergence: everything done to it or seen of it, by whom."""

    class Action(models.TextChoices):
        DETECTED = "detected"
        FIX_REQUESTED = "fix_requested", "fix requested"
        REDRIVE = "redrive", "saga re-driven"
        CONFIRMED_GONE = "confirmed_gone", "audit confirmed it gone"
        MARKED_RESOLVED = "marked_resolved", "marked resolved"
        IGNORED = "ignored"

    divergence = models.ForeignKey(Divergence, on_delete=models.CASCADE, related_name="actions")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=20, choices=Action)
    outcome = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.get_action_display()} by {self.actor}"


class Sweep(models.Model):
    """One audit of the services' state."""

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    triggered_by = models.CharField(max_length=150)
    # The window of changes audited (since), or the order ids asked for.
    since = models.DateTimeField(null=True, blank=True)
    orders_audited = models.PositiveIntegerField(default=0)
    products_audited = models.PositiveIntegerField(default=0)
    found = models.PositiveIntegerField(default=0, help_text="Divergences seen (new or still open).")
    opened = models.PositiveIntegerField(default=0)
    closed = models.PositiveIntegerField(default=0)
    fixes_requested = models.PositiveIntegerField(default=0)
    projection_repaired = models.PositiveIntegerField(default=0)
    # Changes after this were not yet auditable (their events could still be on their way).
    audited_until = models.DateTimeField(null=True, blank=True)
    # How far behind the pipeline was, summed over its stages (services/horizon.py).
    pipeline_lag_seconds = models.FloatField(null=True, blank=True)
    # Automatic fixes held back: the sweep found too many divergences to trust them (the breaker).
    fixes_held = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self):
        return f"sweep {self.pk} at {self.started_at:%Y-%m-%d %H:%M:%S}"
