"""The saga console: every order's saga across the three services, each step with its event and
time, and the two things to do for a stuck one (re-drive it, or fail it and compensate)."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from events.admin import ActionOnlyAdmin, ReadOnlyInline
from reconciliation.admin.filters import AgeFilter
from reconciliation.models import OrderSaga, SagaStep
from reconciliation.services import resolution


class StepInline(ReadOnlyInline):
    model = SagaStep
    fields = ["occurred_at", "producer", "event_type", "sequence", "received_at", "event_id"]
    verbose_name_plural = "steps (events, in the order they happened)"


class SagaStateFilter(admin.SimpleListFilter):
    title = "saga state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("running", "running (pending)"), ("ended", "ended"), ("unknown", "order not seen yet")]

    def queryset(self, request, queryset):
        if self.value() == "running":
            return queryset.filter(order_status="pending")
        if self.value() == "ended":
            return queryset.filter(ended_at__isnull=False)
        if self.value() == "unknown":
            return queryset.filter(order_status="")
        return queryset


@admin.register(OrderSaga)
class OrderSagaAdmin(ActionOnlyAdmin):
    list_display = [
        "order_id",
        "customer",
        "order_status",
        "reservation_status",
        "payment_status",
        "created_at",
        "ended_at",
        "completion",
    ]
    list_filter = [SagaStateFilter, "order_status", "reservation_status", "payment_status", AgeFilter]
    search_fields = ["=order_id", "customer"]
    date_hierarchy = "created_at"
    inlines = [StepInline]
    actions = ["redrive", "fail_and_compensate"]
    fields = [
        "order_id",
        "customer",
        ("order_status", "order_version", "failure_reason"),
        ("total_amount", "currency"),
        ("reservation_status", "reservation_version"),
        ("payment_status", "payment_version", "payment_amount"),
        ("created_at", "ended_at", "completion"),
        "last_event_at",
        "divergences",
    ]
    readonly_fields = [
        "order_id",
        "customer",
        "order_status",
        "order_version",
        "failure_reason",
        "total_amount",
        "currency",
        "reservation_status",
        "reservation_version",
        "payment_status",
        "payment_version",
        "payment_amount",
        "created_at",
        "ended_at",
        "completion",
        "last_event_at",
        "divergences",
    ]

    @admin.display(description="created → terminal")
    def completion(self, saga):
        seconds = saga.completion_seconds
        return "" if seconds is None else f"{seconds:.3f} s"

    @admin.display(description="divergences")
    def divergences(self, saga):
        url = reverse("admin:reconciliation_divergence_changelist")
        return format_html('<a href="{}?q={}">divergences of this order</a>', url, saga.order_id)

    @admin.action(
        description="Re-drive the saga (every service sends its events again)", permissions=["change"]
    )
    def redrive(self, request, queryset):
        for saga in queryset:
            resolution.saga_redrive(order_id=saga.order_id, actor=request.user.get_username())
        self.message_user(request, f"{queryset.count()} saga(s) re-driven", messages.SUCCESS)

    def has_fail_permission(self, request) -> bool:
        return request.user.has_perm("reconciliation.fail_ordersaga")

    @admin.action(description="Fail the order and compensate (pending orders only)", permissions=["fail"])
    def fail_and_compensate(self, request, queryset):
        for saga in queryset:
            try:
                resolution.saga_fail_by_support(saga=saga, actor=request.user.get_username())
            except resolution.ResolutionError as exc:
                self.message_user(request, f"{exc}; left alone", messages.WARNING)
                continue
            self.message_user(request, f"order {saga.order_id}: fail requested", messages.SUCCESS)
