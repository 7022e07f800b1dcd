from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import serializers

from reconciliation.models import Divergence, Sweep


class DivergenceSerializer(serializers.ModelSerializer):
    detected_at = serializers.DateTimeField(source="first_seen_at")

    class Meta:
        model = Divergence
        fields = [
            "id",
            "kind",
            "severity",
            "order_id",
            "subject",
            "status",
            "detected_at",
            "last_seen_at",
            "detail",
            "suggested_fix",
            "fix_requested_at",
            "closed_at",
        ]


class ReconcileRequestSerializer(serializers.Serializer):
    order_ids = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, min_length=1, max_length=1000
    )
    since = serializers.DateTimeField(required=False)
    settle_seconds = serializers.IntegerField(required=False, min_value=0, max_value=86400)

    def validate_since(self, since):
        """A sweep asked for over HTTP runs inside the request: at most
        RECONCILIATION_API_SINCE_MAX_HOURS back (a sweep from the year 2000 audited every order
        of a benchmarked stack and outlived the request, make fuzz, 2026-12-07)."""
        limit = settings.RECONCILIATION_API_SINCE_MAX_HOURS
        if since < timezone.now() - timedelta(hours=limit):
            raise serializers.ValidationError(
                f"a sweep over the API reaches back at most {limit} h; for a longer audit run"
                f" `manage.py reconcile --since {since.isoformat()}` on a reconciliation host"
            )
        return since

    def validate(self, data):
        if "order_ids" in data and "since" in data:
            raise serializers.ValidationError("send order_ids or since, not both")
        return data


class SweepSerializer(serializers.ModelSerializer):
    divergences = serializers.SerializerMethodField()

    class Meta:
        model = Sweep
        fields = [
            "id",
            "started_at",
            "finished_at",
            "since",
            "orders_audited",
            "products_audited",
            "found",
            "opened",
            "closed",
            "fixes_requested",
            "fixes_held",
            "projection_repaired",
            "audited_until",
            "pipeline_lag_seconds",
            "error",
            "divergences",
        ]

    def get_divergences(self, sweep) -> list[dict]:
        """The divergences open after the sweep among those it saw."""
        seen = self.context.get("seen", [])
        return DivergenceSerializer(seen, many=True).data
