"""Payments admin: payments with a refund action (through payments/services.py). The gateway's
own ledger is the gateway's: the simulator's is GET /_ledger (docs/card-gateway.md)."""

from django.contrib import admin, messages

from events.admin import ActionOnlyAdmin
from payments import services
from payments.models import Payment


@admin.register(Payment)
class PaymentAdmin(ActionOnlyAdmin):
    list_display = [
        "payment_id",
        "order_id",
        "status",
        "amount",
        "failure_reason",
        "gateway_reference",
        "processed_at",
        "refunded_at",
    ]
    list_filter = ["status", "failure_reason"]
    search_fields = ["=order_id", "=payment_id", "=gateway_reference", "=refund_reference"]
    date_hierarchy = "created_at"
    actions = ["refund"]

    def has_refund_permission(self, request):
        return request.user.has_perm("payments.refund_payment")

    @admin.action(description="Refund the selected captured payments", permissions=["refund"])
    def refund(self, request, queryset):
        for payment in queryset:
            try:
                services.payment_refund(payment_id=payment.payment_id, by=request.user.get_username())
            except services.RefundRefused as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            payment.refresh_from_db()
            if payment.status == Payment.Status.REFUNDED:
                self.message_user(request, f"{payment}: refunded", messages.SUCCESS)
            else:
                self.message_user(
                    request,
                    f"{payment}: the refund is committed but the gateway has not answered yet; "
                    "it is sent again with the same idempotency key every few seconds",
                    messages.WARNING,
                )
