"""Prometheus metrics of the events machinery, and the /metrics endpoint of every service.

Each service's processes (web workers, consumers, relays, Celery) write their samples to one
directory per service (PROMETHEUS_MULTIPROC_DIR, prometheus-client's multiprocess mode), and
/metrics adds them up. The outbox backlog and the open dead letters are read from the database
at scrape time, so they are right whether or not a relay or consumer is running; so are the
pipeline's stages as `watch_pipeline` last measured them (events/pipeline.py).
"""

import os

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.utils.module_loading import import_string
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from events import pipeline
from events.outbox import outbox_pending

OUTBOX_PUBLISHED = Counter("events_outbox_published_total", "Outbox events the broker confirmed.", ["topic"])
OUTBOX_PUBLISH_ERRORS = Counter(
    "events_outbox_publish_errors_total", "Outbox events the broker did not confirm (kept for retry)."
)
CONSUMED = Counter(
    "events_consumed_total", "Messages a consumer processed, by outcome.", ["consumer", "outcome"]
)
HANDLER_SECONDS = Histogram(
    "events_handler_duration_seconds",
    "Time one call of a batch handler took (the events of a batch it takes, applied together).",
    ["consumer", "handler"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BATCH_SECONDS = Histogram(
    "events_batch_duration_seconds",
    "Time to apply one poll batch in its transaction: checks, inbox, handlers, outbox, commit.",
    ["consumer"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
BATCH_SIZE = Histogram(
    "events_batch_messages",
    "Messages in one poll batch of a consumer.",
    ["consumer"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
BATCHES_SPLIT = Counter(
    "events_batches_split_total",
    "Batches rolled back because a handler failed, then applied message by message.",
    ["consumer"],
)
CONSUMER_PAUSED_SECONDS = Counter(
    "events_consumer_paused_seconds_total",
    "Seconds a consumer's loop spent with its partitions paused, waiting for work its handlers "
    "handed off (a payments consumer's calls to the card gateway) to drain: backpressure.",
    ["consumer"],
)
HANDLER_RETRIES = Counter(
    "events_handler_retries_total", "Handler attempts retried.", ["consumer", "event_type"]
)
DEAD_LETTERS = Counter(
    "events_dead_letters_total", "Messages dead-lettered or parked.", ["consumer", "status"]
)
CONSUMER_LAG = Gauge(
    "events_consumer_lag",
    "Messages behind the partition's high watermark, after the consumer's last batch.",
    ["consumer", "topic", "partition"],
    multiprocess_mode="mostrecent",
)


class DatabaseCollector:
    """Outbox backlog and open dead letters, read from this service's database."""

    def collect(self):
        backlog, oldest_age = outbox_pending()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT consumer, status, count(*) FROM events_deadletter"
                " WHERE status IN ('dead', 'parked') GROUP BY consumer, status"
            )
            open_letters = cursor.fetchall()
        yield GaugeMetricFamily("events_outbox_backlog", "Outbox events not yet published.", value=backlog)
        yield GaugeMetricFamily(
            "events_outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished outbox event (0 when none).",
            value=oldest_age,
        )
        family = GaugeMetricFamily(
            "events_dead_letters_open",
            "Dead letters waiting for retry or discard.",
            labels=["consumer", "status"],
        )
        for consumer, status, count in open_letters:
            family.add_metric([consumer, status], count)
        yield family
        yield from _pipeline_families()


def _pipeline_families():
    stages = pipeline.delays()
    families = {
        "delay": GaugeMetricFamily(
            "events_pipeline_delay_seconds",
            "Age of the oldest event a stage (consumer group or outbox) has not applied or published yet.",
            labels=["stage"],
        ),
        "wait": GaugeMetricFamily(
            "events_pipeline_wait_seconds",
            "How long an event arriving now would wait at a stage: its backlog at its drain rate.",
            labels=["stage"],
        ),
        "backlog": GaugeMetricFamily(
            "events_pipeline_backlog", "Events waiting at a stage of the pipeline.", labels=["stage"]
        ),
        "drain": GaugeMetricFamily(
            "events_pipeline_drain_per_second",
            "Events a stage worked off a second lately (0 while not known).",
            labels=["stage"],
        ),
        "stalled": GaugeMetricFamily(
            "events_pipeline_stalled",
            "1 while a stage has events waiting and made no progress for PIPELINE_STALL_SECONDS.",
            labels=["stage"],
        ),
        "measured": GaugeMetricFamily(
            "events_pipeline_measured_timestamp_seconds",
            "When watch_pipeline last measured a stage (Unix time).",
            labels=["stage"],
        ),
    }
    for stage in stages.values():
        families["delay"].add_metric([stage.name], stage.seconds)
        families["wait"].add_metric([stage.name], stage.wait_seconds)
        families["backlog"].add_metric([stage.name], stage.backlog)
        families["drain"].add_metric([stage.name], stage.drain_per_second)
        families["stalled"].add_metric([stage.name], int(stage.stalled))
        families["measured"].add_metric([stage.name], stage.measured_at.timestamp())
    yield from families.values()


def metrics_view(request):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY  # a single process: its own samples
    output = generate_latest(registry)
    output += generate_latest(_database_registry())
    return HttpResponse(output, content_type=CONTENT_TYPE_LATEST)


def _database_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector())
    for path in settings.METRICS_COLLECTORS:
        registry.register(import_string(path)())
    return registry
