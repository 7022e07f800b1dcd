"""Rule policies (editable: automatic or manual, enabled, the stuck-order SLA) and the sweeps
(read-only). The sweep's schedule is django-celery-beat's, under Periodic tasks."""

from django.contrib import admin

from events.admin import ReadOnlyAdmin
from reconciliation.models import RulePolicy, Sweep


@admin.register(RulePolicy)
class RulePolicyAdmin(admin.ModelAdmin):
    list_display = ["kind", "enabled", "automatic", "threshold_seconds"]
    list_editable = ["enabled", "automatic", "threshold_seconds"]
    readonly_fields = ["kind"]

    def has_add_permission(self, request):
        return False  # one per kind, made by the migrations

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Sweep)
class SweepAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "started_at",
        "finished_at",
        "triggered_by",
        "orders_audited",
        "found",
        "opened",
        "closed",
        "fixes_requested",
        "fixes_held",
        "audited_until",
        "error",
    ]
    list_filter = ["triggered_by"]
    date_hierarchy = "started_at"
