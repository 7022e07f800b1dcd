import logging

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, connections

from events import pipeline
from events.consumers import consumers
from events.shutdown import stop_on_signals

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Measure how far behind this service's outbox and consumer groups are (PIPELINE_WATCHED_CONSUMERS "
        "adds others' groups) every PIPELINE_WATCH_INTERVAL_SECONDS, and store it for /metrics, /readyz, "
        "admission control and the sweep. Runs until SIGTERM; --once measures once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="measure once and exit")

    def handle(self, *args, once, **options):
        names = settings.PIPELINE_WATCHED_CONSUMERS
        names = list(consumers()) if names is None else names
        stop = stop_on_signals()
        probe = pipeline.Probe()
        logger.info("watching the outbox and consumer groups %s", ", ".join(names))
        try:
            while True:
                try:
                    pipeline.stages_measure(probe, names)
                except DatabaseError as exc:
                    logger.warning("pipeline not measured: %s", exc)
                    connections.close_all()
                if once or stop.wait(settings.PIPELINE_WATCH_INTERVAL_SECONDS):
                    break
        finally:
            probe.close()
