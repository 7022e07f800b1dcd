from django.core.management.base import BaseCommand, CommandError

from events.consumers import consumer_get
from events.consuming import ConsumerLoop, TooManyErrors
from events.shutdown import stop_on_signals


class Command(BaseCommand):
    help = (
        "Run one of this service's event consumers: read its topics from Kafka in batches and apply each "
        "event once. Stops cleanly on SIGTERM."
    )

    def add_arguments(self, parser):
        parser.add_argument("--consumer", help="which consumer, if the service has several")
        parser.add_argument("--batch-size", type=int, default=200, help="messages per batch (default 200)")

    def handle(self, *args, consumer, batch_size, **options):
        try:
            spec = consumer_get(consumer)
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        try:
            ConsumerLoop(spec, batch_size=batch_size, stop=stop_on_signals()).run()
        except TooManyErrors as exc:
            raise CommandError(f"{exc}. Stopping so the process manager restarts the consumer.") from exc
