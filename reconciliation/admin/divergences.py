"""Divergences in the admin: the list with its filters, each one's detail with the three services'
views side by side and its audit trail, and the actions support staff take. Every action goes
through reconciliation/services/resolution.py; nothing here edits a divergence's fields."""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import render
from django.urls import path
from django.utils.html import format_html, format_html_join

from events.admin import ActionOnlyAdmin, ReadOnlyInline
from reconciliation.admin import overview
from reconciliation.admin.filters import AgeFilter
from reconciliation.models import Divergence, DivergenceAction
from reconciliation.services import resolution

SIDES = (("orders", "Orders"), ("inventory", "Inventory"), ("payments", "Payments"))
# The rows of the side-by-side view: (label, field of the services' records).
FIELDS = (
    ("status", "status"),
    ("version", "version"),
    ("amount", "total_amount"),
    ("amount charged", "amount"),
    ("reason", "failure_reason"),
    ("release reason", "release_reason"),
    ("lines", "lines"),
    ("payment", "payment_id"),
    ("customer", "customer"),
    ("created", "created_at"),
    ("last changed", "updated_at"),
)


class ActionInline(ReadOnlyInline):
    model = DivergenceAction
    fields = ["at", "actor", "action", "outcome"]
    verbose_name_plural = "audit trail"


class DetectedAgeFilter(AgeFilter):
    field = "first_seen_at"


class IgnoreForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Kept in each divergence's audit trail.",
    )


@admin.register(Divergence)
class DivergenceAdmin(ActionOnlyAdmin):
    list_display = [
        "id",
        "kind",
        "severity",
        "status",
        "subject",
        "first_seen_at",
        "last_seen_at",
        "fix_requested_at",
    ]
    list_display_links = ["id", "subject"]
    list_filter = ["status", "severity", "kind", DetectedAgeFilter]
    search_fields = ["=order_id", "subject"]
    date_hierarchy = "first_seen_at"
    inlines = [ActionInline]
    actions = ["apply_suggested_fix", "redrive_saga", "mark_resolved", "ignore_with_reason"]
    fields = [
        "kind",
        "severity",
        "status",
        "subject",
        "detail",
        "suggested_fix",
        "side_by_side",
        "first_seen_at",
        "last_seen_at",
        "fix_requested_at",
        "fix_automatic",
        "closed_at",
    ]
    readonly_fields = fields

    def get_urls(self):
        view = self.admin_site.admin_view(overview.overview_view)
        return [path("overview/", view, name="reconciliation_overview"), *super().get_urls()]

    @admin.display(description="the services side by side (as the last audit saw them)")
    def side_by_side(self, divergence):
        evidence = divergence.evidence or {}
        records = [evidence.get(service) or {} for service, _ in SIDES]
        if not any(isinstance(r, dict) and r for r in records):
            return format_html("<pre>{}</pre>", evidence)
        projection = evidence.get("projection") or {}
        header = format_html_join("", "<th>{}</th>", ((label,) for _, label in SIDES))
        rows = [
            (label, [_cell(record, field) for record in records])
            for label, field in FIELDS
            if any(isinstance(r, dict) and r.get(field) not in (None, "") for r in records)
        ]
        rows.append(
            (
                "the projection (from events)",
                [
                    f"{projection.get(f'{side}_status') or '-'} v{projection.get(f'{side}_version', 0)}"
                    if projection
                    else "not seen"
                    for side in ("order", "reservation", "payment")
                ],
            )
        )
        body = format_html_join(
            "",
            "<tr><th>{}</th>{}</tr>",
            ((label, format_html_join("", "<td>{}</td>", ((c,) for c in cells))) for label, cells in rows),
        )
        return format_html('<table class="side-by-side"><tr><th></th>{}</tr>{}</table>', header, body)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The page is read-only (ActionOnlyAdmin); its action buttons are for who may act.
        extra_context = {
            **(extra_context or {}),
            "may_act": self.has_change_permission(request),
            "may_fix": self.has_fix_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def has_fix_permission(self, request) -> bool:
        return request.user.has_perm("reconciliation.fix_divergence")

    @admin.action(description="Apply the suggested fix", permissions=["fix"])
    def apply_suggested_fix(self, request, queryset):
        self._each(request, queryset, resolution.divergence_apply_fix, "fix sent; the next audit confirms it")

    @admin.action(
        description="Re-drive the saga (every service sends its events again)", permissions=["change"]
    )
    def redrive_saga(self, request, queryset):
        self._each(request, queryset, resolution.divergence_redrive, "saga re-driven")

    @admin.action(description="Mark resolved", permissions=["change"])
    def mark_resolved(self, request, queryset):
        self._each(request, queryset, resolution.divergence_mark_resolved, "marked resolved")

    @admin.action(description="Ignore, with a reason", permissions=["change"])
    def ignore_with_reason(self, request, queryset):
        form = IgnoreForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            self._each(
                request,
                queryset,
                lambda *, divergence, actor: resolution.divergence_ignore(
                    divergence=divergence, actor=actor, reason=reason
                ),
                "ignored",
            )
            return None
        return render(
            request,
            "admin/reconciliation/divergence/ignore.html",
            {
                **self.admin_site.each_context(request),
                "title": "Ignore divergences",
                "divergences": queryset,
                "form": form,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    def _each(self, request, queryset, service, done: str) -> None:
        actor = request.user.get_username()
        for divergence in queryset:
            try:
                service(divergence=divergence, actor=actor)
            except resolution.ResolutionError as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.message_user(request, f"divergence #{divergence.pk}: {done}", messages.SUCCESS)


def _cell(record, key):
    value = record.get(key, "") if isinstance(record, dict) else ""
    return "" if value is None else value
