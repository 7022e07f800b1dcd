"""Reconciliation's metrics, beside the events machinery's (events/metrics.py).

Histograms are observed where things happen (the projection, the sweep); the state of the
divergences and of pending orders is read from the database at scrape time.
"""

from django.db import connection
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

SAGA_COMPLETION = Histogram(
    "reconciliation_saga_completion_seconds",
    "Time from an order's creation to its terminal status, by outcome.",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
)
DETECTION_DELAY = Histogram(
    "reconciliation_detection_delay_seconds",
    "Time from the last change of the records involved to a divergence's detection, by kind.",
    ["kind"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 21600, 86400),
)

FIXES_HELD = Counter(
    "reconciliation_fixes_held_total",
    "Automatic fixes a sweep held back because it found a mass divergence (the breaker).",
)

PENDING_AGE_LABELS = ("under_1m", "1m_to_5m", "over_5m")


class ReconciliationCollector:
    """Open divergences, pending orders by age, and the last sweep, from the database."""

    def collect(self):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT kind, severity, count(*), extract(epoch FROM now() - min(first_seen_at))"
                " FROM reconciliation_divergence WHERE status = 'open' GROUP BY kind, severity"
            )
            divergences = cursor.fetchall()
            cursor.execute(
                "SELECT"
                " count(*) FILTER (WHERE created_at > now() - interval '1 minute'),"
                " count(*) FILTER (WHERE created_at <= now() - interval '1 minute'"
                "   AND created_at > now() - interval '5 minutes'),"
                " count(*) FILTER (WHERE created_at <= now() - interval '5 minutes'),"
                " coalesce(extract(epoch FROM now() - min(created_at)), 0)"
                " FROM reconciliation_ordersaga WHERE order_status = 'pending'"
            )
            *pending, oldest_pending = cursor.fetchone()
            cursor.execute(
                "SELECT extract(epoch FROM max(finished_at)) FROM reconciliation_sweep WHERE error = ''"
            )
            (last_sweep,) = cursor.fetchone()
            cursor.execute(
                "SELECT fixes_held FROM reconciliation_sweep WHERE finished_at IS NOT NULL AND error = ''"
                " ORDER BY started_at DESC LIMIT 1"
            )
            held = cursor.fetchone()
        open_count = GaugeMetricFamily(
            "reconciliation_divergences_open", "Open divergences.", labels=["kind", "severity"]
        )
        oldest = GaugeMetricFamily(
            "reconciliation_divergence_oldest_open_age_seconds",
            "Age of the oldest open divergence.",
            labels=["kind", "severity"],
        )
        for kind, severity, count, age in divergences:
            open_count.add_metric([kind, severity], count)
            oldest.add_metric([kind, severity], float(age))
        yield open_count
        yield oldest
        by_age = GaugeMetricFamily(
            "reconciliation_orders_pending", "Orders pending, by how long they have been.", labels=["age"]
        )
        for label, count in zip(PENDING_AGE_LABELS, pending, strict=True):
            by_age.add_metric([label], count)
        yield by_age
        yield GaugeMetricFamily(
            "reconciliation_orders_pending_oldest_age_seconds",
            "Age of the oldest pending order (0 when none).",
            value=float(oldest_pending),
        )
        yield GaugeMetricFamily(
            "reconciliation_last_sweep_fixes_held",
            "Automatic fixes the last sweep held back for a person (a mass divergence; 0: none).",
            value=float(held[0] if held else 0),
        )
        if last_sweep is not None:
            yield GaugeMetricFamily(
                "reconciliation_last_sweep_timestamp_seconds",
                "When the last successful sweep finished (Unix time).",
                value=float(last_sweep),
            )
