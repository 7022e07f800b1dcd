"""Every Kafka topic of the system, in one place, and the code that creates them.

Each service publishes its events to its own topic, keyed by the aggregate id (the order id for
everything in the saga), so one order's events stay in order within a partition. Each consuming
service has a dead-letter topic for the events it could not handle.
"""

import logging
import time
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic
from django.conf import settings

from events import kafka

logger = logging.getLogger(__name__)

# The services that own an order's saga (each publishes its part of it), and every service.
SAGA_SERVICES = ("orders", "inventory", "payments")
SERVICES = (*SAGA_SERVICES, "reconciliation")


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    description: str


def event_topic(service: str) -> str:
    """The topic a service publishes its events to."""
    return f"oms.{service}.events"


def topic_owner(topic: str) -> str | None:
    """The service whose events `topic` carries (the only one the broker lets write it), or None
    for a topic that is not a service's event topic."""
    for service in SERVICES:
        if topic == event_topic(service):
            return service
    return None


def dead_letter_topic(service: str) -> str:
    """The topic a service's consumers send the events they could not handle to."""
    return f"oms.{service}.dead-letter"


TOPICS: tuple[Topic, ...] = (
    *(Topic(event_topic(s), 6, f"events published by the {s} service") for s in SERVICES),
    *(Topic(dead_letter_topic(s), 3, f"events the {s} service could not handle") for s in SERVICES),
)


def topics_ensure(*, wait_seconds: float = 0.0) -> list[str]:
    """Create the topics of TOPICS that do not exist yet; return the names created.

    With wait_seconds, first wait that long at most for the broker to answer.
    """
    _wait_for_broker(wait_seconds)
    admin = kafka.admin_client()
    existing = set(admin.list_topics(timeout=10).topics)
    replication = settings.KAFKA_REPLICATION_FACTOR
    wanted = [
        NewTopic(t.name, num_partitions=t.partitions, replication_factor=replication)
        for t in TOPICS
        if t.name not in existing
    ]
    if not wanted:
        return []
    created = []
    for name, future in admin.create_topics(wanted, operation_timeout=30).items():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # a concurrent creator won
                raise
        else:
            created.append(name)
    return created


def _wait_for_broker(wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while (error := kafka.broker_error(timeout=2.0)) and time.monotonic() < deadline:
        logger.info("waiting for Kafka: %s", error)
        time.sleep(1.0)
    if error:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT, error))
