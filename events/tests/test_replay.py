"""Replaying a topic into a consumer that already applied it changes nothing."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from events.models import InboxEvent
from events.replay import replay
from events.tests import support
from events.tests.support import account, credited, registered
from tests.polling import wait_until

pytestmark = pytest.mark.usefixtures("ledger")


def test_replaying_a_whole_topic_into_a_consumer_that_applied_it_changes_nothing(topic):
    support.open_account("a")
    support.open_account("b")
    support.produce(topic, credited("a", 1, 100), credited("b", 1, 10), credited("a", 2, 200))
    consumer = support.ledger_consumer(topic)
    with support.consumer_thread(consumer):
        wait_until(
            lambda: InboxEvent.objects.filter(consumer=consumer.name).count() == 3,
            timeout=30,
            message="the consumer to apply everything",
        )

    first = replay(consumer, topic=topic)
    second = replay(consumer, topic=topic)

    assert first.messages == second.messages == 3
    assert dict(first.outcomes) == dict(second.outcomes) == {"duplicate": 3}
    assert (account("a"), account("b")) == ((300, 2), (10, 1))


def test_replay_applies_what_was_missed_and_can_be_limited_by_offset(topic):
    support.open_account("a")
    support.produce(topic, credited("a", 1, 100), credited("a", 2, 200), credited("a", 3, 400))
    consumer = support.ledger_consumer(topic)
    partition = support.find_on_topic(topic, lambda m: True).partition()

    result = replay(consumer, topic=topic, partitions=[partition], from_offset=0, to_offset=1)

    assert dict(result.outcomes) == {"applied": 2}
    assert account("a") == (300, 2)


def test_replay_events_dry_run_reports_and_applies_nothing(topic):
    support.open_account("a")
    support.produce(topic, credited("a", 1, 100))
    consumer = support.ledger_consumer(topic)
    out = StringIO()

    with registered(consumer):
        call_command("replay_events", topic=topic, dry_run=True, stdout=out)

    assert "would apply" in out.getvalue()
    assert "dry run: 1 messages replayed" in out.getvalue()
    assert account("a") == (0, 0)


def test_replay_events_names_a_missing_topic():
    with pytest.raises(CommandError, match="no topic 'no.such.topic'"):
        call_command("replay_events", topic="no.such.topic")
