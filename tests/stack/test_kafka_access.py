"""Kafka is not open: every client authenticates, and a service's principal may write its own
topics only (events/acls.py, docs/hostile-input.md). Each test is a step an attacker on the
network, or one service's stolen password, would try against the running broker."""

import os
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

from tests.stack.conftest import SERVICES, ctl


def as_principal(username: str, password: str | None = None, **extra) -> dict:
    """A client of the running broker as `username`, with the local stack's password by default."""
    return {
        "bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": username,
        "sasl.password": password if password is not None else f"local-kafka-{username}",
        "log_level": 0,
        **extra,
    }


def produce_error(config: dict, topic: str) -> KafkaError | None:
    """The delivery error of one message to `topic` (None: the broker took it)."""
    errors = []
    producer = Producer({**config, "message.timeout.ms": 10000})
    producer.produce(topic, key=b"forged", value=b"{}", on_delivery=lambda err, msg: errors.append(err))
    producer.flush(15)
    assert errors, "the message was neither delivered nor failed"
    return errors[0]


def test_a_client_without_credentials_gets_no_metadata():
    # given: a plain client, as anyone who reaches the port would write one
    admin = AdminClient({"bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"], "log_level": 0})
    # then: the broker tells it nothing, not even which topics exist
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)


def test_a_wrong_password_is_refused():
    # given: the orders principal, with its password and with a guess
    assert "oms.orders.events" in AdminClient(as_principal("orders")).list_topics(timeout=10).topics
    errors = []
    admin = AdminClient(as_principal("orders", password="guess", error_cb=errors.append))
    # then: the guess gets no metadata, and librdkafka says why: authentication failed
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=10)
    admin.poll(1)  # serves the error callbacks
    assert any(error.code() == KafkaError._AUTHENTICATION for error in errors), errors[:3]


@pytest.mark.parametrize("topic", ["oms.orders.events", "oms.payments.events", "oms.payments.dead-letter"])
def test_one_service_cannot_publish_as_another(topic):
    # given: inventory's credentials, say stolen from its host
    # then: the orders and payments topics refuse its message (no forged FailOrder or RefundPayment)
    error = produce_error(as_principal("inventory"), topic)
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_one_service_cannot_join_another_services_consumer_group():
    # given: inventory's credentials trying to read as the orders consumer (taking its partitions,
    # committing its offsets past events it never applied)
    consumer = Consumer(as_principal("inventory", **{"group.id": "orders", "enable.auto.commit": False}))
    try:
        consumer.subscribe(["oms.inventory.events"])
        error = None
        for _ in range(20):
            message = consumer.poll(0.5)
            if message is not None and message.error():
                error = message.error()
                break
        # then: the broker refuses it the group
        assert error is not None and error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    finally:
        consumer.close()


def test_a_service_cannot_create_topics_or_grant_itself_acls():
    admin = AdminClient(as_principal("payments"))
    topic = f"oms.attacker-{uuid.uuid4().hex[:8]}"
    with pytest.raises(KafkaException) as refused:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(15)
    assert refused.value.args[0].code() in (
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
    )
    grant = AclBinding(
        ResourceType.TOPIC,
        "oms.orders.events",
        ResourcePatternType.LITERAL,
        "User:payments",
        "*",
        AclOperation.WRITE,
        AclPermissionType.ALLOW,
    )
    with pytest.raises(KafkaException) as refused:
        admin.create_acls([grant])[grant].result(15)
    assert refused.value.args[0].code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED


def test_every_running_service_process_connects_as_its_own_principal():
    # Each service's settings default to its own principal (config/settings/base.py); a process
    # that inherited one KAFKA_USERNAME for all of them (the operators', say) would defeat the ACLs.
    pids = {
        line.split()[0]: line.split("pid ")[1].split(",")[0]
        for line in ctl("status").splitlines()
        if line.startswith("app:") and "RUNNING" in line
    }
    assert {name.split("-")[1] for name in pids if name.startswith("app:consume-")} == set(SERVICES)
    for name, pid in pids.items():
        with open(f"/proc/{pid}/environ", "rb") as environ:
            variables = {entry.split(b"=", 1)[0] for entry in environ.read().split(b"\0") if entry}
        assert b"KAFKA_USERNAME" not in variables and b"KAFKA_PASSWORD" not in variables, name
