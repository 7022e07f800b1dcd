"""The faults `make chaos` injects into the running stack, each a function that does its harm
and undoes it (or lets the process manager undo it), returning what it did.

Processes are found through supervisor (stack/ctl); Kafka's messages are written with a plain
producer, as a misbehaving client or a broker redelivery would."""

import json
import os
import random
import signal
import subprocess
import time
import uuid

import psutil
from confluent_kafka import Consumer, Producer, TopicPartition

from bench import stack
from bench.stack import ctl

# The kinds of process SIGKILLed at random moments, by supervisor program name prefix.
KILLABLE = ("web", "consume", "relay", "watch", "celery", "beat")
SERVICE_TOPICS = ("oms.orders.events", "oms.inventory.events", "oms.payments.events")


def program_pid(program: str) -> int:
    return int(ctl("pid", program))


def program_of(kind: str, service: str, rng: random.Random) -> str:
    """The supervisor name of a process of that kind and service: one of the service's event
    workers for "consume" (app:consume-<service>-<n>, EVENT_WORKERS of them)."""
    if kind != "consume":
        return f"app:{kind}-{service}"
    prefix = f"app:consume-{service}-"
    return rng.choice([line.split()[0] for line in ctl("status").splitlines() if line.startswith(prefix)])


def wait_running(program: str, timeout: float = 60) -> float:
    """Seconds until supervisor reports `program` RUNNING again."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if "RUNNING" in ctl("status", program):
            return time.monotonic() - started
        time.sleep(0.2)
    raise TimeoutError(f"{program} did not come back within {timeout} s")


def kill_random_process(rng: random.Random) -> dict:
    """SIGKILL one process of a random kind and service: for web, the master or one worker."""
    kind = rng.choice(KILLABLE)
    service = rng.choice(stack.SERVICES)
    program = program_of(kind, service, rng)
    pid = program_pid(program)
    target = pid
    if kind == "web" and rng.random() < 0.5:
        workers = psutil.Process(pid).children()
        if workers:
            target = rng.choice(workers).pid
    os.kill(target, signal.SIGKILL)
    what = f"SIGKILL {program} ({'worker' if target != pid else 'main'} pid {target})"
    back = wait_running(program) if target == pid else 0.0
    return {"fault": "kill", "what": what, "back_after_s": round(back, 1)}


def kafka_nodes() -> int:
    return int(os.environ.get("KAFKA_NODES", "1"))


def kafka_outage(seconds: float) -> dict:
    """Stop Kafka (every node of a cluster), keep it down for `seconds`, start it again."""
    nodes = (
        ["infra:kafka"] if kafka_nodes() == 1 else [f"infra:kafka-{n}" for n in range(1, kafka_nodes() + 1)]
    )
    ctl("stop", *nodes)
    try:
        time.sleep(seconds)  # the outage itself: how long Kafka stays down
    finally:  # an interrupted run leaves Kafka running
        ctl("start", *nodes)
    return {"fault": "kafka_outage", "what": f"Kafka stopped for {seconds:g} s, then started"}


def broker_kill(rng: random.Random, seconds: float) -> dict:
    """In a three-node cluster: SIGKILL one node, keep it down for `seconds`, start it again."""
    node = rng.randint(1, kafka_nodes())
    cluster = str(stack.ROOT / "stack" / "kafka-cluster")
    subprocess.run([cluster, "kill", str(node)], check=True, capture_output=True, timeout=60)
    try:
        time.sleep(seconds)  # the cluster runs on two nodes this long
    finally:
        subprocess.run([cluster, "start", str(node)], check=True, capture_output=True, timeout=120)
    return {"fault": "broker_kill", "what": f"SIGKILL Kafka node {node}, down {seconds:g} s, then started"}


# The card gateway's faults during make chaos (docs/card-gateway.md): errors, answers lost after
# the operation was performed (3 s late, past payments' 2 s timeout), and slowness.
GATEWAY_FAULTS = {"error_rate": 0.15, "timeout_rate": 0.15, "latency_ms": 20}


def gateway_flaky() -> dict:
    """The card gateway simulator made flaky (until gateway_reset)."""
    response = stack.requests.post(f"{stack.url('card_gateway')}/_faults", json=GATEWAY_FAULTS, timeout=10)
    response.raise_for_status()
    faults = response.json()
    return {
        "fault": "gateway_flaky",
        "what": f"card gateway: {faults['error_rate']:.0%} errors, {faults['timeout_rate']:.0%} answers "
        f"{faults['late_ms'] / 1000:g} s late (after performing), +{faults['latency_ms']} ms each",
    }


def gateway_reset() -> None:
    stack.requests.delete(f"{stack.url('card_gateway')}/_faults", timeout=10).raise_for_status()


def postgres_restart() -> dict:
    started = time.monotonic()
    ctl("restart", "infra:postgres")
    return {
        "fault": "postgres_restart",
        "what": "PostgreSQL restarted",
        "took_s": round(time.monotonic() - started, 1),
    }


def consumer_freeze(rng: random.Random, seconds: float) -> dict:
    """SIGSTOP one service's consumer past its session timeout, then SIGCONT."""
    service = rng.choice(stack.SERVICES)
    program = program_of("consume", service, rng)
    pid = program_pid(program)
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)  # frozen this long: past the group's session timeout
    finally:
        os.kill(pid, signal.SIGCONT)
    return {"fault": "freeze", "what": f"SIGSTOP {program} for {seconds:g} s, then SIGCONT"}


def redeliver(rng: random.Random, count: int) -> dict:
    """Produce again `count` recent events of each service topic: duplicates, in reverse order
    (so an aggregate's older events arrive after its newer ones)."""
    producer = _producer()
    sent = 0
    for topic in SERVICE_TOPICS:
        recent = _recent_messages(topic, count)
        for message in reversed(recent):
            producer.produce(topic, key=message.key(), value=message.value(), headers=message.headers())
            sent += 1
    producer.flush(30)
    return {"fault": "redeliver", "what": f"{sent} recent events produced again, newest first"}


def poison(count: int) -> dict:
    """Messages no consumer can apply, keyed to aggregates no order has (so they block nothing
    real): bytes that are not JSON, and envelopes whose payload breaks its schema."""
    producer = _producer()
    for n in range(count):
        key = f"poison-{uuid.uuid4()}".encode()
        if n % 2:
            value = b"\x00this is not an event"
        else:
            value = json.dumps(
                {
                    "event_id": str(uuid.uuid4()),
                    "event_type": "OrderCreated",
                    "version": 1,
                    "aggregate_type": "order",
                    "aggregate_id": key.decode(),
                    "sequence": 1,
                    "occurred_at": "2026-01-01T00:00:00+00:00",
                    "producer": "chaos",
                    "correlation_id": str(uuid.uuid4()),
                    "payload": {"order_id": "not-a-uuid", "lines": "none"},
                }
            ).encode()
        producer.produce("oms.orders.events", key=key, value=value)
    producer.flush(30)
    return {"fault": "poison", "what": f"{count} poison messages on oms.orders.events"}


def poison_discard() -> dict[str, int]:
    """Discard the dead letters the poison messages became, as support would once they have been
    looked at, so that the run leaves no dead letter open: how many, by service."""
    discarded = {}
    for service in stack.SERVICES:
        rows = stack.query(
            service,
            "UPDATE events_deadletter SET status = 'discarded', resolved_by = 'make chaos',"
            " updated_at = now()"
            " WHERE status = 'dead' AND position('poison-'::bytea IN key) = 1"
            " RETURNING id",
        )
        if rows:
            discarded[service] = len(rows)
    return discarded


def _producer() -> Producer:
    return Producer(stack.kafka_config(acks="all"))


def _recent_messages(topic: str, count: int) -> list:
    """Up to `count` of the newest messages of `topic`, read without joining any group."""
    reader = Consumer(stack.kafka_config(**{"group.id": "chaos-reader", "enable.auto.commit": False}))
    try:
        partitions = reader.list_topics(topic, timeout=10).topics[topic].partitions
        per_partition = max(1, count // len(partitions))
        assignment = []
        for partition in partitions:
            low, high = reader.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            assignment.append(TopicPartition(topic, partition, max(low, high - per_partition)))
        reader.assign(assignment)
        messages, deadline = [], time.monotonic() + 10
        while len(messages) < count and time.monotonic() < deadline:
            message = reader.poll(0.5)
            if message is not None and not message.error():
                messages.append(message)
        return messages
    finally:
        reader.close()
