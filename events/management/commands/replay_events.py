from confluent_kafka import KafkaException
from django.core.management.base import BaseCommand, CommandError

from events.consumers import consumer_get
from events.management.arguments import moment
from events.replay import replay


class Command(BaseCommand):
    help = (
        "Re-deliver events from a Kafka topic to one of this service's consumers, by partition and offset "
        "range or by time range. Events already applied are recognised by the inbox and change nothing, "
        "so running it twice is safe. --dry-run only reports what each message would do."
    )

    def add_arguments(self, parser):
        parser.add_argument("--topic", required=True, help="the topic to read, e.g. oms.orders.events")
        parser.add_argument("--consumer", help="which consumer of this service, if it has several")
        parser.add_argument("--partition", type=int, action="append", help="only this partition (repeatable)")
        parser.add_argument("--from-offset", type=int, help="first offset to deliver")
        parser.add_argument("--to-offset", type=int, help="last offset to deliver (inclusive)")
        parser.add_argument("--since", type=moment, help="messages from this time (ISO 8601, UTC if no zone)")
        parser.add_argument("--until", type=moment, help="messages before this time")
        parser.add_argument("--dry-run", action="store_true", help="report only; apply nothing")

    def handle(self, *args, **o):
        try:
            consumer = consumer_get(o["consumer"])
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        if (o["from_offset"] is not None or o["to_offset"] is not None) and not o["partition"]:
            self.stdout.write("offsets apply to every partition of the topic (use --partition to pick one)")

        def report(message, outcome):
            if o["verbosity"] >= 2 or o["dry_run"]:
                self.stdout.write(f"{message.topic}/{message.partition}@{message.offset}: {outcome}")

        try:
            result = replay(
                consumer,
                topic=o["topic"],
                partitions=o["partition"],
                from_offset=o["from_offset"],
                to_offset=o["to_offset"],
                since=o["since"],
                until=o["until"],
                dry_run=o["dry_run"],
                on_message=report,
            )
        except (LookupError, KafkaException) as exc:
            raise CommandError(str(exc)) from exc
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(result.outcomes.items()))
        prefix = "dry run: " if o["dry_run"] else ""
        self.stdout.write(
            f"{prefix}{result.messages} messages replayed to {consumer.name}: {summary or 'none'}"
        )
