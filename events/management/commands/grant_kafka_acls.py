from confluent_kafka import KafkaException
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events.acls import acls_grant


class Command(BaseCommand):
    help = (
        "Grant this service's Kafka principal its ACLs (events/acls.py): write its own topics, read "
        "the system's, join its own consumer groups. Run as a principal allowed to alter ACLs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--principal",
            default=None,
            help="the service's Kafka user name (default: the service's name, as its settings default to)",
        )

    def handle(self, *args, principal, **options):
        principal = principal or settings.SERVICE_NAME
        try:
            granted = acls_grant(settings.SERVICE_NAME, principal)
        except KafkaException as exc:
            raise CommandError(
                f"Kafka refused the ACLs: {exc.args[0].str()}. Run this as the operators' principal "
                "(KAFKA_USERNAME and KAFKA_PASSWORD), with Kafka running (`make status`)."
            ) from exc
        for acl in granted:
            self.stdout.write(
                f"User:{principal} may {acl.operation.name} {acl.restype.name} "
                f"{acl.name} ({acl.resource_pattern_type.name})"
            )
