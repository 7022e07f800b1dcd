"""What a service may do on Kafka: the ACLs of its principal (docs/hostile-input.md, "Kafka").

Every client authenticates (events/kafka.py), and the broker allows nothing that no ACL allows
(allow.everyone.if.no.acl.found=false). A service's principal may:

- write its own topics only, its events and its dead letters: no one else can speak for it, so a
  `RefundPayment` on the payments topic comes from payments;
- read any of the system's topics (events are not secret between the services; replay and the
  pipeline watcher read them);
- join and commit offsets only in its own consumers' groups (their names, and the replay groups
  named after them), and in the pipeline watcher's probe group;
- describe any group: the watcher reads the other services' committed offsets.

It may not create or delete topics, alter configurations or grant ACLs: the operators' principal
does that (stack/bootstrap.py runs as it).
"""

from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)
from django.conf import settings

from events import kafka
from events.consumers import consumers
from events.topics import dead_letter_topic, event_topic

TOPIC_PREFIX = "oms."
PROBE_GROUP = "oms-pipeline-probe"


def service_acls(service: str, principal: str) -> list[AclBinding]:
    """The ACLs `principal` needs to run `service` and no more."""

    def allow(kind: ResourceType, name: str, pattern: ResourcePatternType, operation: AclOperation):
        return AclBinding(kind, name, pattern, f"User:{principal}", "*", operation, AclPermissionType.ALLOW)

    literal, prefixed = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
    groups = sorted(settings.EVENTS_CONSUMER_GROUP_PREFIX + name for name in consumers())
    return [
        allow(ResourceType.TOPIC, event_topic(service), literal, AclOperation.WRITE),
        allow(ResourceType.TOPIC, dead_letter_topic(service), literal, AclOperation.WRITE),
        allow(ResourceType.TOPIC, TOPIC_PREFIX, prefixed, AclOperation.READ),
        # A group's own name and its replays' (`<name>.replay.<uuid>`, events/replay.py).
        *(allow(ResourceType.GROUP, group, prefixed, AclOperation.READ) for group in groups),
        allow(ResourceType.GROUP, PROBE_GROUP, literal, AclOperation.READ),
        allow(ResourceType.GROUP, "*", literal, AclOperation.DESCRIBE),
    ]


def acls_grant(service: str, principal: str) -> list[AclBinding]:
    """Grant `principal` the ACLs of `service` (granting one it has changes nothing); the ACLs.
    Needs a principal allowed to alter ACLs (the operators')."""
    wanted = service_acls(service, principal)
    for future in kafka.admin_client().create_acls(wanted, request_timeout=30).values():
        future.result()  # raises KafkaException when refused
    return wanted
