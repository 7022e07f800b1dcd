"""What the events app's tests share: a ledger to apply events to, a test event type in two
versions, throw-away Kafka topics, and consumers run in a thread or a forked process.

The ledger is deliberately not idempotent (a credit adds to the balance), so an event applied
twice shows; and it keeps the sequence it last applied, so an older event must not overwrite it.
"""

import contextlib
import dataclasses
import multiprocessing
import os
import signal
import threading
import time
import uuid
from unittest import mock

import pydantic
from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import NewTopic
from django.db import connection, connections

from events import kafka, schemas
from events.consumers import Consumer, Event
from events.consuming import ConsumerLoop
from events.envelope import Envelope


class CreditedV1(pydantic.BaseModel):
    amount: int


class CreditedV2(pydantic.BaseModel):
    amount_cents: int
    memo: str


if not schemas.is_registered("TestCredited"):
    schemas.register("TestCredited", 1, CreditedV1, producer="tests")
    schemas.register(
        "TestCredited",
        2,
        CreditedV2,
        producer="tests",
        upcast=lambda v1: {"amount_cents": v1["amount"] * 100, "memo": "(v1)"},
    )


class NoSuchAccount(LookupError):
    pass


def create_ledger() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS test_ledger (account text PRIMARY KEY, balance bigint NOT NULL, "
            "sequence bigint NOT NULL DEFAULT 0)"
        )
        cursor.execute("TRUNCATE test_ledger")


def drop_ledger() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS test_ledger")


def open_account(account: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO test_ledger (account, balance) VALUES (%s, 0)", [account])


def account(account: str) -> tuple[int, int] | None:
    """(balance, last applied sequence), or None."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT balance, sequence FROM test_ledger WHERE account = %s", [account])
        return cursor.fetchone()


def handle_credited(events: list[Event]) -> None:
    """Add each credit, unless the ledger already applied its sequence or a later one: one
    statement for the batch, as a real handler does (one event per account per call)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE test_ledger AS l SET balance = l.balance + c.amount, sequence = c.sequence"
            " FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) AS c(account, amount, sequence)"
            " WHERE l.account = c.account AND l.sequence < c.sequence",
            [
                [e.envelope.aggregate_id for e in events],
                [e.payload.amount_cents for e in events],
                [e.envelope.sequence for e in events],
            ],
        )
        if cursor.rowcount < len(events):
            missing = [e.envelope.aggregate_id for e in events if account(e.envelope.aggregate_id) is None]
            if missing:
                raise NoSuchAccount(f"no account {', '.join(missing)}")


def ledger_consumer(topic: str) -> Consumer:
    return Consumer(
        name=f"test-{uuid.uuid4().hex[:12]}", topics=(topic,), handlers={"TestCredited": handle_credited}
    )


def registered(consumer: Consumer):
    """Make `consumer` this service's only registered consumer (retries and replays look it up)."""
    return mock.patch("events.consumers.consumers", lambda: {consumer.name: consumer})


def credited(account_id: str, sequence: int, amount_cents: int, *, version: int = 2) -> Envelope:
    payload = (
        {"amount": amount_cents // 100} if version == 1 else {"amount_cents": amount_cents, "memo": "test"}
    )
    return Envelope(
        event_type="TestCredited",
        version=version,
        aggregate_type="account",
        aggregate_id=account_id,
        sequence=sequence,
        payload=payload,
        producer="tests",
        correlation_id=account_id,
    )


# --- Kafka ---


def create_topic(partitions: int = 3) -> str:
    name = f"test.events.{uuid.uuid4().hex[:12]}"
    futures = kafka.admin_client().create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1)]
    )
    futures[name].result(timeout=30)
    return name


def delete_topic(name: str) -> None:
    kafka.admin_client().delete_topics([name])[name].result(timeout=30)


def produce(topic: str, *items: Envelope | tuple[bytes, bytes]) -> None:
    """Send envelopes (keyed by aggregate id) or raw (key, value) pairs, in order."""
    producer = Producer(kafka.client_config(**{"enable.idempotence": True}))
    for item in items:
        key, value = (item.key, item.to_json()) if isinstance(item, Envelope) else item
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def read_all(topic: str, expected: int, timeout: float = 30) -> list:
    """The first `expected` messages of `topic`, from every partition."""
    reader = KafkaConsumer(
        kafka.client_config(**{"group.id": f"test-reader-{uuid.uuid4()}", "auto.offset.reset": "earliest"})
    )
    reader.subscribe([topic])
    messages = []
    try:
        deadline = time.monotonic() + timeout
        while len(messages) < expected and time.monotonic() < deadline:
            messages += [m for m in reader.consume(100, timeout=1.0) if not m.error()]
    finally:
        reader.close()
    return messages


def find_on_topic(topic: str, predicate, timeout: float = 20):
    """The first message of `topic` that satisfies `predicate`, or None after `timeout` seconds."""
    reader = KafkaConsumer(
        kafka.client_config(**{"group.id": f"test-reader-{uuid.uuid4()}", "auto.offset.reset": "earliest"})
    )
    reader.subscribe([topic])
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in reader.consume(500, timeout=1.0):
                if not message.error() and predicate(message):
                    return message
    finally:
        reader.close()
    return None


def committed_offsets(group: str, topic: str, partitions: int = 3) -> dict[int, int]:
    reader = KafkaConsumer(kafka.client_config(**{"group.id": group}))
    try:
        found = reader.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        reader.close()
    return {tp.partition: tp.offset for tp in found if tp.offset >= 0}


COORDINATOR_NOT_READY = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
}


def group_caught_up(group: str, topic: str, partitions: int = 3) -> bool:
    """The group committed everything that is in the topic (a partition it never committed
    counts as at 0: a group commits where it starts only once it is assigned the partition)."""
    try:
        committed = committed_offsets(group, topic, partitions)
        return all(committed.get(p, 0) == end for p, end in end_offsets(topic, partitions).items())
    except KafkaException as exc:
        # Not yet: on a fresh cluster the group's coordinator is still being chosen or loaded.
        if exc.args[0].code() in COORDINATOR_NOT_READY or exc.args[0].retriable():
            return False
        raise


def end_offsets(topic: str, partitions: int = 3) -> dict[int, int]:
    reader = KafkaConsumer(kafka.client_config(**{"group.id": f"test-watermarks-{uuid.uuid4()}"}))
    try:
        return {
            p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
    finally:
        reader.close()


# --- consumers ---


@contextlib.contextmanager
def consumer_thread(consumer: Consumer, **loop_options):
    """Run the consumer loop in a thread for the duration of the block, then stop it cleanly."""
    stop = threading.Event()
    loop = ConsumerLoop(consumer, stop=stop, poll_timeout=0.2, **loop_options)
    failure = []

    def run():
        try:
            loop.run()
        except BaseException as exc:  # surfaced in the test below
            failure.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive(), "the consumer did not stop"
    if failure:
        raise failure[0]


def _then_killed(handler):
    def handle(events):
        handler(events)
        os.kill(os.getpid(), signal.SIGKILL)

    return handle


def consumer_process(
    consumer: Consumer, *, kill_after_batch: bool = False, kill_in_batch: bool = False
) -> multiprocessing.Process:
    """Start the consumer loop in a forked process: a real process that can be really killed.

    With kill_after_batch, the process SIGKILLs itself after its first batch is committed to the
    database and before the batch's offsets are committed to Kafka. With kill_in_batch, inside its
    first batch: once a handler has written, before the batch's transaction commits.
    """

    def run():
        nonlocal consumer
        after_batch = (lambda messages: os.kill(os.getpid(), signal.SIGKILL)) if kill_after_batch else None
        if kill_in_batch:
            consumer = dataclasses.replace(
                consumer, handlers={t: _then_killed(handler) for t, handler in consumer.handlers.items()}
            )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *args: stop.set())
        ConsumerLoop(consumer, stop=stop, poll_timeout=0.2, after_batch=after_batch).run()

    connections.close_all()  # the child opens its own; never share a socket across fork
    process = multiprocessing.get_context("fork").Process(target=run, daemon=True)
    process.start()
    return process
