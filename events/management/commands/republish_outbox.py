from django.core.management.base import BaseCommand, CommandError

from events.management.arguments import moment
from events.outbox import outbox_republish


class Command(BaseCommand):
    help = (
        "Publish stored outbox events again, for one aggregate and/or a time range: they are marked "
        "unpublished and the relay sends them once more, in order. Consumers apply them at most once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--aggregate", help="the aggregate id (the order id for saga events)")
        parser.add_argument("--since", type=moment, help="events created from this time (ISO 8601)")
        parser.add_argument("--until", type=moment, help="events created before this time")
        parser.add_argument("--dry-run", action="store_true", help="count the events only")

    def handle(self, *args, aggregate, since, until, dry_run, **options):
        try:
            count = outbox_republish(aggregate_id=aggregate, since=since, until=until, dry_run=dry_run)
        except ValueError as exc:
            raise CommandError(f"{exc}. Use --aggregate, --since or --until.") from exc
        verb = "would be republished" if dry_run else "marked for republishing"
        self.stdout.write(f"{count} outbox events {verb}")
