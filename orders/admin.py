"""Orders admin for support staff. The cancel action goes through the same service (and event)
as the customer's cancel; nothing here edits an order's fields by hand."""

from django.contrib import admin, messages

from events.admin import ActionOnlyAdmin, ReadOnlyAdmin, ReadOnlyInline
from orders import state
from orders.models import CatalogProduct, Order, OrderLine, OrderStatusChange
from orders.services import placement


class LineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["sku", "quantity", "unit_price"]


class HistoryInline(ReadOnlyInline):
    model = OrderStatusChange
    fields = ["at", "status", "reason"]


@admin.register(Order)
class OrderAdmin(ActionOnlyAdmin):
    list_display = [
        "order_id",
        "customer",
        "status",
        "failure_reason",
        "total_amount",
        "created_at",
        "updated_at",
    ]
    list_filter = ["status", "failure_reason", "created_at"]
    search_fields = ["=order_id", "customer__username"]
    list_select_related = ["customer"]
    date_hierarchy = "created_at"
    inlines = [LineInline, HistoryInline]
    actions = ["cancel"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Order._meta.fields]

    def has_cancel_permission(self, request):
        return request.user.has_perm("orders.cancel_order")

    @admin.action(
        description="Cancel the selected pending orders (stock and payment are compensated)",
        permissions=["cancel"],
    )
    def cancel(self, request, queryset):
        for order in queryset:
            try:
                placement.order_cancel(
                    order_id=order.order_id, reason=f"cancelled by {request.user.get_username()}"
                )
            except state.IllegalTransition as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.message_user(request, f"order {order.order_id} cancelled", messages.SUCCESS)


@admin.register(CatalogProduct)
class CatalogProductAdmin(ReadOnlyAdmin):
    """The read model: maintained from the inventory service's events; edit products there."""

    list_display = ["sku", "name", "price", "version", "updated_at"]
    search_fields = ["sku", "name"]
