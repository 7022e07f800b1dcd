"""Kafka clients configured from the settings of the service that runs them."""

import functools
import logging

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from django.conf import settings

logger = logging.getLogger(__name__)


def client_config(**overrides) -> dict:
    """librdkafka configuration shared by every client of this service: it connects as the
    service's own principal (docs/hostile-input.md, "Kafka")."""
    return {
        "bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        "client.id": f"oms-{settings.SERVICE_NAME}",
        "logger": logger,
        **credentials(),
        **overrides,
    }


def credentials() -> dict:
    """How this service authenticates to the broker, as librdkafka's settings."""
    config = {"security.protocol": settings.KAFKA_SECURITY_PROTOCOL}
    if settings.KAFKA_SECURITY_PROTOCOL.startswith("SASL_"):
        config.update(
            {
                "sasl.mechanism": settings.KAFKA_SASL_MECHANISM,
                "sasl.username": settings.KAFKA_USERNAME,
                "sasl.password": settings.KAFKA_PASSWORD,
            }
        )
    return config


def admin_client() -> AdminClient:
    """One admin client per process and bootstrap address (clients are costly to create)."""
    return _admin_client(settings.KAFKA_BOOTSTRAP_SERVERS)


@functools.lru_cache(maxsize=4)
def _admin_client(bootstrap_servers: str) -> AdminClient:
    return AdminClient(client_config())


def admin_client_reset() -> None:
    """Forget the admin clients made so far: the next admin_client() makes a new one."""
    _admin_client.cache_clear()


def broker_error(timeout: float) -> str | None:
    """None when the cluster answers a metadata request within `timeout` seconds, else why not."""
    try:
        metadata = admin_client().list_topics(timeout=timeout)
    except KafkaException as exc:
        return f"Kafka at {settings.KAFKA_BOOTSTRAP_SERVERS} did not answer: {exc.args[0].str()}"
    if not metadata.brokers:
        return f"Kafka at {settings.KAFKA_BOOTSTRAP_SERVERS} reports no brokers"
    return None
