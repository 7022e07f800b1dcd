"""The admin every service shares: the events tables (the outbox and inbox read-only, dead
letters with "retry" and "discard" actions: events/dead_letters.py does the work), and
django-celery-beat's periodic tasks with their actions behind the change permission, and
django-axes' failed logins (the lockouts) with theirs behind the delete permission."""

from axes import admin as axes_admin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.utils.html import format_html
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import PeriodicTask

from events.dead_letters import NotRetryable, dead_letter_discard, dead_letter_retry
from events.models import DeadLetter, InboxEvent, OutboxEvent
from events.processing import Outcome


class ReadOnlyAdmin(admin.ModelAdmin):
    """Ledger tables: looked at, never edited by hand."""

    show_facets = admin.ShowFacets.ALWAYS

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ActionOnlyAdmin(ReadOnlyAdmin):
    """A table changed only through its admin actions, each declaring the permission it needs.
    The model's change permission is what lets Django's change list offer actions at all
    (ModelAdmin's own check, asked without a row); a row's own page is read-only for everyone,
    with no Save button: nothing on it is edited by hand."""

    def has_change_permission(self, request, obj=None):
        return obj is None and admin.ModelAdmin.has_change_permission(self, request)


class ReadOnlyInline(admin.TabularInline):
    """Rows shown with their parent (its lines, history, audit trail), every field read-only:
    never added, edited or deleted there. A subclass names the model and its fields."""

    extra = 0
    max_num = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class PublishedFilter(admin.SimpleListFilter):
    title = "published"
    parameter_name = "published"

    def lookups(self, request, model_admin):
        return [("yes", "published"), ("no", "waiting")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(published_at__isnull=self.value() == "no")
        return queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "event_type",
        "aggregate_id",
        "sequence",
        "topic",
        "created_at",
        "published_at",
        "attempts",
    ]
    list_filter = [PublishedFilter, "event_type", "topic"]
    search_fields = ["=event_id", "=aggregate_id", "=correlation_id"]
    date_hierarchy = "created_at"


@admin.register(InboxEvent)
class InboxEventAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "consumer",
        "event_type",
        "aggregate_id",
        "sequence",
        "topic",
        "partition",
        "offset",
        "processed_at",
    ]
    list_filter = ["consumer", "event_type"]
    search_fields = ["=event_id", "=aggregate_id"]
    date_hierarchy = "processed_at"


@admin.register(DeadLetter)
class DeadLetterAdmin(ActionOnlyAdmin):
    list_display = [
        "id",
        "consumer",
        "status",
        "event_type",
        "aggregate_id",
        "sequence",
        "where",
        "attempts",
        "short_error",
        "created_at",
    ]
    list_filter = ["status", "consumer", "event_type"]
    search_fields = ["=event_id", "=aggregate_id"]
    readonly_fields = ["message_text"]
    exclude = ["key", "value"]
    actions = ["retry", "discard"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in DeadLetter._meta.fields if f.name not in ("key", "value")] + ["message_text"]

    @admin.display(description="read at")
    def where(self, letter):
        return f"{letter.topic}/{letter.partition}@{letter.offset}"

    @admin.display(description="error")
    def short_error(self, letter):
        return letter.error[:120]

    @admin.display(description="message")
    def message_text(self, letter):
        value = bytes(letter.value).decode(errors="replace") if letter.value is not None else ""
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", value)

    @admin.action(
        description="Retry the selected dead letters (then release what is parked behind them)",
        permissions=["change"],
    )
    def retry(self, request, queryset):
        for letter in queryset.order_by("partition", "offset"):
            try:
                outcome = dead_letter_retry(letter, by=request.user.get_username())
            except NotRetryable as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            if outcome == Outcome.DEAD:
                letter.refresh_from_db()
                self.message_user(request, f"{letter}: failed again: {letter.error}", messages.ERROR)
            else:
                self.message_user(request, f"{letter}: {outcome}", messages.SUCCESS)

    @admin.action(
        description="Discard the selected dead letters (then release what is parked behind them)",
        permissions=["change"],
    )
    def discard(self, request, queryset):
        for letter in queryset.order_by("partition", "offset"):
            try:
                dead_letter_discard(letter, by=request.user.get_username())
            except NotRetryable as exc:
                self.message_user(request, str(exc), messages.WARNING)
                continue
            self.message_user(request, f"{letter}: discarded", messages.SUCCESS)


class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    """django-celery-beat's own, but its actions (enable, disable, toggle, run now) are offered
    only to who may change periodic tasks: as shipped they declare no permission, and a staff
    member who may only view could run a sweep or stop the saga's timeouts."""

    def get_actions(self, request):
        return super().get_actions(request) if self.has_change_permission(request) else {}


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskAdmin)


class AccessAttemptAdmin(axes_admin.AccessAttemptAdmin):
    """django-axes' own list of failed logins and lockouts; deleting a row lifts its lockout.
    Its one action (clear the expired attempts) deletes rows too, so it is offered only to who
    may delete them: as shipped it declares no permission."""

    def get_actions(self, request):
        return super().get_actions(request) if self.has_delete_permission(request) else {}


admin.site.unregister(AccessAttempt)
admin.site.register(AccessAttempt, AccessAttemptAdmin)
