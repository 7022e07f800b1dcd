"""Inventory admin for support staff. Edits go through inventory/services.py: a product saved
here is an audited stock change with its ProductUpdated event, never a raw field edit."""

from django.contrib import admin, messages

from events.admin import ActionOnlyAdmin, ReadOnlyAdmin, ReadOnlyInline
from inventory import services
from inventory.models import Product, Reservation, StockMovement

# What a stock movement did, in the product's inline and in the movements' own list.
MOVEMENT = ["kind", "stock_change", "reserved_change", "stock_after", "reserved_after", "order_id"]


class MovementInline(ReadOnlyInline):
    model = StockMovement
    fields = ["created_at", *MOVEMENT, "reason", "actor"]
    ordering = ["-id"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = [
        "sku",
        "name",
        "price",
        "stock_quantity",
        "reserved_quantity",
        "available",
        "version",
        "updated_at",
    ]
    search_fields = ["sku", "name"]
    fields = ["sku", "name", "price", "stock_quantity", "reserved_quantity", "version"]
    readonly_fields = ["reserved_quantity", "version"]
    inlines = [MovementInline]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "sku"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        try:
            services.product_upsert(
                sku=obj.sku,
                name=obj.name,
                price=obj.price,
                stock_quantity=obj.stock_quantity,
                actor=request.user.get_username(),
            )
        except services.InventoryError as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def has_delete_permission(self, request, obj=None):
        return False  # products are referenced by orders and movements; set their stock to 0 instead


@admin.register(Reservation)
class ReservationAdmin(ActionOnlyAdmin):
    list_display = ["order_id", "status", "release_reason", "version", "created_at", "updated_at"]
    list_filter = ["status", "release_reason"]
    search_fields = ["=order_id"]
    date_hierarchy = "created_at"
    actions = ["release"]

    def has_release_permission(self, request):
        return request.user.has_perm("inventory.release_reservation")

    @admin.action(
        description="Release the selected held reservations (units go back to stock)", permissions=["release"]
    )
    def release(self, request, queryset):
        released = 0
        for reservation in queryset:
            try:
                services.reservation_release_by_support(
                    order_id=reservation.order_id, actor=request.user.get_username()
                )
            except services.InventoryError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                released += 1
        if released:
            self.message_user(request, f"{released} reservation(s) released", messages.SUCCESS)


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "product", *MOVEMENT, "actor"]
    list_filter = ["kind"]
    search_fields = ["=product__sku", "=order_id"]
    list_select_related = ["product"]
    date_hierarchy = "created_at"
