"""Payments admin: payments with a refund action (through payments/services.py), and the
simulated gateway's ledger, read-only."""

from django.contrib import admin, messages

from events.admin import ReadOnlyAdmin
from payments import services
from payments.models import GatewayCharge, Payment


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "payment_id",
        "order_id",
        "status",
        "amount",
        "failure_reason",
        "processed_at",
        "refunded_at",
    ]
    list_filter = ["status", "failure_reason"]
    search_fields = ["=order_id", "=payment_id", "=gateway_reference"]
    date_hierarchy = "created_at"
    actions = ["refund"]

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("payments.change_payment")

    def has_refund_permission(self, request):
        return request.user.has_perm("payments.refund_payment")

    @admin.action(description="Refund the selected captured payments", permissions=["refund"])
    def refund(self, request, queryset):
        for payment in queryset:
            try:
                services.payment_refund(payment_id=payment.payment_id, by=request.user.get_username())
            except ValueError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.message_user(request, f"{payment} refunded", messages.SUCCESS)


@admin.register(GatewayCharge)
class GatewayChargeAdmin(ReadOnlyAdmin):
    list_display = [
        "reference",
        "idempotency_key",
        "amount",
        "approved",
        "decline_code",
        "refunded",
        "created_at",
    ]
    search_fields = ["=reference", "=idempotency_key"]
