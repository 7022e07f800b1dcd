"""Events written while the real Kafka broker is stopped are all published, in order, once it
is back; none is lost. Stops and starts the stack's broker (stack/ctl)."""

import json
import subprocess
import threading
from pathlib import Path

import pytest
from django.db import connections, transaction
from django.test import override_settings

from events import kafka, publishing
from events.models import OutboxEvent
from events.relay import Relay
from events.tests import support
from tests.polling import wait_until

CTL = Path(__file__).resolve().parents[2] / "stack" / "ctl"

pytestmark = pytest.mark.django_db(transaction=True)


def broker(action: str) -> None:
    subprocess.run([CTL, action, "infra:kafka"], check=True, capture_output=True, timeout=120)


def write(topic, account, sequence):
    with transaction.atomic():
        publishing.publish(
            "TestCredited",
            aggregate_type="account",
            aggregate_id=account,
            sequence=sequence,
            payload={"amount_cents": 1, "memo": "m"},
            topic=topic,
        )


@override_settings(EVENTS_RELAY_MESSAGE_TIMEOUT_MS=2000, EVENTS_RELAY_MAX_BACKOFF_SECONDS=2)
def test_events_written_while_the_broker_is_down_are_published_in_order_when_it_returns(topic):
    stop = threading.Event()
    relay = Relay(poll_interval=0.5, stop=stop)
    thread = threading.Thread(target=lambda: (relay.run(), connections.close_all()), daemon=True)
    thread.start()
    try:
        broker("stop")
        try:
            for sequence in (1, 2, 3):
                for account in ("a", "b"):
                    write(topic, account, sequence)
            wait_until(
                lambda: OutboxEvent.objects.filter(attempts__gte=1).exists(),
                timeout=30,
                message="the relay to try and fail while the broker is down",
            )
            assert OutboxEvent.objects.filter(published_at=None).count() == 6
        finally:
            broker("start")
        wait_until(lambda: kafka.broker_error(2.0) is None, timeout=60, message="the broker to return")
        wait_until(
            lambda: not OutboxEvent.objects.filter(published_at=None).exists(),
            timeout=60,
            message="every row to be published",
        )
    finally:
        stop.set()
        thread.join(30)

    by_account: dict[str, list[int]] = {}
    for message in support.read_all(topic, 6):
        envelope = json.loads(message.value())
        by_account.setdefault(envelope["aggregate_id"], []).append(envelope["sequence"])
    assert by_account == {"a": [1, 2, 3], "b": [1, 2, 3]}
