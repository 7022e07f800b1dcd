from datetime import timedelta

from django.contrib import admin
from django.utils import timezone

AGES = {
    "hour": ("less than an hour", timedelta(hours=1)),
    "day": ("less than a day", timedelta(days=1)),
    "older": ("more than a day", None),
}


class AgeFilter(admin.SimpleListFilter):
    """How old the row is, by its `field`."""

    title = "age"
    parameter_name = "age"
    field = "created_at"

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in AGES.items()]

    def queryset(self, request, queryset):
        if self.value() not in AGES:
            return queryset
        field = self.field
        now = timezone.now()
        if self.value() == "older":
            return queryset.filter(**{f"{field}__lt": now - timedelta(days=1)})
        return queryset.filter(**{f"{field}__gte": now - AGES[self.value()][1]})
