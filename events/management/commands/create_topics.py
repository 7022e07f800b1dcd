from confluent_kafka import KafkaException
from django.core.management.base import BaseCommand, CommandError

from events.topics import TOPICS, topics_ensure


class Command(BaseCommand):
    help = "Create the system's Kafka topics (events/topics.py) that do not exist yet."

    def add_arguments(self, parser):
        parser.add_argument(
            "--wait",
            type=float,
            default=0.0,
            metavar="SECONDS",
            help="wait up to this long for the broker to answer first",
        )

    def handle(self, *args, wait, **options):
        try:
            created = topics_ensure(wait_seconds=wait)
        except KafkaException as exc:
            raise CommandError(f"{exc.args[0].str()}. Is Kafka running? Try `make status`.") from exc
        for name in created:
            self.stdout.write(f"created topic {name}")
        self.stdout.write(f"{len(TOPICS)} topics present, {len(created)} created")
