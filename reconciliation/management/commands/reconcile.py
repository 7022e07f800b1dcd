"""Run one reconciliation sweep now and print what it found."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from reconciliation.services import sweep


class Command(BaseCommand):
    help = (
        "Audit the services' state now: the orders changed since the last sweep (or --since), "
        "or exactly the --order ids; open, fix and close divergences as the rule policies say."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--order", action="append", dest="order_ids", help="audit this order (repeatable)"
        )
        parser.add_argument("--since", help="audit the orders changed since this ISO 8601 time")
        parser.add_argument(
            "--settle-seconds", type=int, help="treat orders changed this recently as still moving"
        )

    def handle(self, *args, order_ids, since, settle_seconds, **options):
        if since is not None:
            try:
                parsed = parse_datetime(since)
            except ValueError:  # well formed, but no such time (February 30th)
                parsed = None
            if parsed is None or parsed.tzinfo is None:
                raise CommandError(
                    f"--since {since!r} is not an ISO 8601 time with a zone, e.g. 2026-11-24T10:00Z"
                )
            since = parsed
        if order_ids and since:
            raise CommandError("give --order or --since, not both")
        result = sweep.sweep_run(
            triggered_by="reconcile command", order_ids=order_ids, since=since, settle_seconds=settle_seconds
        )
        if result.error:
            raise CommandError(f"sweep {result.pk} could not finish: {result.error}")
        self.stdout.write(
            f"sweep {result.pk}: audited {result.orders_audited} orders, {result.products_audited} products; "
            f"{result.found} divergences seen, {result.opened} new, {result.closed} closed, "
            f"{result.fixes_requested} fixes sent, {result.projection_repaired} projection rows repaired"
        )
