from django.core.management.base import BaseCommand

from events.relay import Relay
from events.shutdown import stop_on_signals


class Command(BaseCommand):
    help = (
        "Publish this service's outbox to Kafka: wake on NOTIFY (polling as a fallback), publish in order "
        "per aggregate, mark rows published once the broker confirmed them. Several may run at once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=500, help="rows claimed per batch (default 500)"
        )
        parser.add_argument(
            "--poll-interval",
            type=float,
            default=1.0,
            help="seconds between polls without a NOTIFY (default 1)",
        )

    def handle(self, *args, batch_size, poll_interval, **options):
        Relay(batch_size=batch_size, poll_interval=poll_interval, stop=stop_on_signals()).run()
