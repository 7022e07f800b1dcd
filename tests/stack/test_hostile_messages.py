"""A hostile message on every event topic of the running stack stops no consumer: each service
dead-letters it, its consumer processes keep their pids, and the saga goes on (docs/hostile-input.md).

200 kB of `[[[...]]]`, which Python's JSON parser cannot read without a RecursionError, once
stopped all four services' consumers for ever: the batch rewound to it, the process exited and
the process manager restarted it onto the same message."""

import uuid

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from bench import stack
from bench.stack import query
from tests.stack.client import customer, outcome, place, product
from tests.stack.conftest import SERVICES, ctl, wait_until

TOPICS = [f"oms.{service}.events" for service in SERVICES]
DEEP = b"[" * 100_000 + b"]" * 100_000


def consumer_pids() -> dict[str, str]:
    return {
        line.split()[0]: line.split("pid ")[1].split(",")[0]
        for line in ctl("status").splitlines()
        if line.startswith("app:consume-") and "RUNNING" in line
    }


def topics_read() -> dict[str, set[str]]:
    """The event topics each service's consumer group is assigned, as the broker says."""
    admin = AdminClient(stack.kafka_config())
    groups = admin.describe_consumer_groups(list(SERVICES))
    return {
        group: {p.topic for member in found.result().members for p in member.assignment.topic_partitions}
        for group, found in groups.items()
    }


def dead_lettered(service: str, keys: dict[str, str]) -> set[str]:
    """The topics whose hostile message `service` holds as a dead letter."""
    rows = query(
        service,
        "SELECT topic FROM events_deadletter WHERE aggregate_id = ANY(%s) AND status = 'dead'",
        [list(keys.values())],
    )
    return {topic for (topic,) in rows}


def test_a_message_nested_100000_deep_on_every_topic_is_dead_lettered_and_the_saga_goes_on():
    # given: the consumers as they run, and a hostile message on each topic (one key per topic)
    pids = consumer_pids()
    assert pids
    # (a group rebalancing has members without partitions for a moment: wait for its assignment)
    reads = wait_until(
        lambda: (found := topics_read()) and all(found.values()) and found,
        timeout=60,
        interval=1.0,
        message="every service's consumer group to be assigned its topics",
    )
    run = uuid.uuid4().hex[:10]
    keys = {topic: f"hostile-{run}-{topic}" for topic in TOPICS}
    producer = Producer(stack.kafka_config())
    for topic, key in keys.items():
        producer.produce(topic, key=key.encode(), value=DEEP)
    assert producer.flush(30) == 0

    try:
        # then: every service dead-lettered it on every topic it reads
        wait_until(
            lambda: all(dead_lettered(service, keys) == reads[service] for service in SERVICES),
            timeout=60,
            message="every service to dead-letter the hostile message on every topic it reads",
        )
        # and an order placed after them flows through every service, no consumer restarted
        token = customer()
        order = place(token, product(stock=1))
        assert outcome(token, order["order_id"])["status"] == "completed"
        assert consumer_pids() == pids, "a consumer process was restarted"
    finally:  # support's part: the letters are looked at and discarded, so none is left open
        for service in SERVICES:
            query(
                service,
                "UPDATE events_deadletter SET status = 'discarded' WHERE aggregate_id = ANY(%s) RETURNING id",
                [list(keys.values())],
            )
