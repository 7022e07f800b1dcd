"""Idempotent, ordered, crash-safe consumption against the real Kafka and PostgreSQL."""

import dataclasses
import signal
import threading

import pytest
from django.test import override_settings
from prometheus_client import REGISTRY

from events import pipeline, schemas
from events.dead_letters import dead_letter_retry
from events.models import DeadLetter, InboxEvent
from events.processing import BatchAborted, Message, Outcome, process, process_batch
from events.tests import support
from events.tests.support import account, credited, registered
from events.topics import dead_letter_topic
from tests.polling import wait_until

pytestmark = pytest.mark.usefixtures("ledger")


def caught_up(consumer, topic) -> bool:
    return support.group_caught_up(consumer.name, topic)


def run_until_caught_up(consumer, topic):
    """A new consumer process, SIGTERMed once the group has committed everything in the topic."""
    process = support.consumer_process(consumer)
    try:
        wait_until(lambda: caught_up(consumer, topic), timeout=60, message="the consumer to catch up")
    finally:
        process.terminate()
        process.join(30)
    return process


def test_the_same_event_delivered_twice_changes_state_once(topic):
    support.open_account("a")
    event = credited("a", 1, 500)
    support.produce(topic, event, event)
    consumer = support.ledger_consumer(topic)

    with support.consumer_thread(consumer):
        wait_until(lambda: caught_up(consumer, topic), timeout=30, message="the consumer to catch up")

    assert account("a") == (500, 1)
    assert InboxEvent.objects.filter(consumer=consumer.name, event_id=event.event_id).count() == 1


def test_an_older_event_arriving_late_does_not_overwrite_newer_state(topic):
    support.open_account("a")
    support.produce(topic, credited("a", 2, 700), credited("a", 1, 100))
    consumer = support.ledger_consumer(topic)

    with support.consumer_thread(consumer):
        wait_until(lambda: caught_up(consumer, topic), timeout=30, message="the consumer to catch up")

    assert account("a") == (700, 2)


def test_an_event_written_in_an_older_schema_version_is_upcast_and_applied(topic):
    support.open_account("a")
    support.produce(topic, credited("a", 1, 300, version=1))
    consumer = support.ledger_consumer(topic)

    with support.consumer_thread(consumer):
        wait_until(lambda: caught_up(consumer, topic), timeout=30, message="the consumer to catch up")

    assert account("a") == (300, 1)


def test_a_poison_message_is_dead_lettered_and_the_consumer_carries_on(topic):
    # given: account "a" gets an unreadable message between two good ones; "b" is unaffected
    support.open_account("a")
    support.open_account("b")
    support.produce(
        topic,
        credited("a", 1, 100),
        (b"a", b"this is not an event"),
        credited("a", 2, 200),
        credited("b", 1, 50),
    )
    consumer = support.ledger_consumer(topic)

    # when
    with support.consumer_thread(consumer):
        wait_until(lambda: caught_up(consumer, topic), timeout=30, message="the consumer to catch up")

    # then: b flowed on; a's later event waits behind its dead letter instead of jumping the line
    assert account("b") == (50, 1)
    assert account("a") == (100, 1)
    letters = {letter.status: letter for letter in DeadLetter.objects.filter(consumer=consumer.name)}
    assert set(letters) == {DeadLetter.Status.DEAD, DeadLetter.Status.PARKED}
    assert letters[DeadLetter.Status.DEAD].error.startswith("unreadable message")
    assert letters[DeadLetter.Status.PARKED].sequence == 2
    dead = letters[DeadLetter.Status.DEAD]
    assert (dead.topic, dead.aggregate_id, bytes(dead.value)) == (topic, "a", b"this is not an event")
    on_dead_letter_topic = support.find_on_topic(
        dead_letter_topic("orders"), lambda m: dict(m.headers() or []).get("original_topic") == topic.encode()
    )
    assert on_dead_letter_topic is not None, "the poison message is on the dead-letter topic"
    assert on_dead_letter_topic.value() == b"this is not an event"


def test_a_message_nested_100000_deep_is_dead_lettered_and_the_consumer_carries_on(topic):
    # given: 200 kB of [[[...]]] inside a well-formed envelope, which Python's parser cannot read
    # without a RecursionError, between good events of another account and after one of its own
    support.open_account("a")
    support.open_account("b")
    deep = (
        credited("a", 2, 100)
        .to_json()
        .replace(b'"memo":"test"', b'"memo":' + b"[" * 100_000 + b"]" * 100_000)
    )
    support.produce(topic, credited("a", 1, 100), (b"a", deep), credited("b", 1, 50), credited("b", 2, 70))
    consumer = support.ledger_consumer(topic)

    # when: the consumer's loop (it raises out of the thread if the message stops it)
    with support.consumer_thread(consumer):
        wait_until(lambda: caught_up(consumer, topic), timeout=30, message="the consumer to catch up")

    # then: the deep message is a dead letter with its reason; every other event was applied
    assert account("a") == (100, 1)
    assert account("b") == (120, 2)
    (letter,) = DeadLetter.objects.filter(consumer=consumer.name)
    assert letter.status == DeadLetter.Status.DEAD
    assert letter.error.startswith("unreadable message: too big to read: it is nested more than")
    assert bytes(letter.value) == deep


def test_a_failing_handler_is_retried_then_dead_lettered_and_its_later_events_parked(topic):
    # given: no account "x" yet, so every credit to it fails
    support.produce(topic, credited("x", 1, 100), credited("x", 2, 200))
    consumer = support.ledger_consumer(topic)

    with support.consumer_thread(consumer):
        wait_until(lambda: caught_up(consumer, topic), timeout=30, message="the consumer to catch up")

    letters = DeadLetter.objects.filter(consumer=consumer.name).order_by("offset")
    assert [(x.status, x.sequence) for x in letters] == [("dead", 1), ("parked", 2)]
    assert letters[0].attempts == 3
    assert "NoSuchAccount: no account x" in letters[0].error


@override_settings(EVENTS_CONSUMER_COMMIT_INTERVAL_MS=600_000)
def test_a_consumer_killed_after_storing_its_offsets_and_before_they_reach_kafka_applies_nothing_twice(topic):
    # given a consumer whose stored offsets would reach Kafka only after ten minutes
    support.open_account("a")
    support.produce(topic, credited("a", 1, 100), credited("a", 2, 200))
    consumer = support.ledger_consumer(topic)
    first = support.consumer_process(consumer)
    wait_until(
        lambda: InboxEvent.objects.filter(consumer=consumer.name).count() == 2,
        timeout=60,
        message="the consumer to apply both events",
    )

    # when it is SIGKILLed with both applied and their offsets only stored
    first.kill()
    first.join(30)
    assert support.committed_offsets(consumer.name, topic) == {0: 0, 1: 0, 2: 0}  # only where it started

    # and a new process (the usual interval) reads them again from the group's offsets
    with override_settings(EVENTS_CONSUMER_COMMIT_INTERVAL_MS=1000):
        run_until_caught_up(consumer, topic)

    # then the inbox absorbed the redelivery
    assert account("a") == (300, 2)
    assert InboxEvent.objects.filter(consumer=consumer.name).count() == 2


def two_accounts_three_credits(topic: str):
    """Accounts a and b, and credits a+100, b+10, a+200 on `topic`; a consumer of them."""
    support.open_account("a")
    support.open_account("b")
    support.produce(topic, credited("a", 1, 100), credited("b", 1, 10), credited("a", 2, 200))
    return support.ledger_consumer(topic)


def assert_applied_once(consumer, restarted) -> None:
    """The three credits of two_accounts_three_credits applied once each, by a process that then
    stopped cleanly (SIGTERM: finished its batch, committed, left the group)."""
    assert account("a") == (300, 2)
    assert account("b") == (10, 1)
    assert InboxEvent.objects.filter(consumer=consumer.name).count() == 3
    assert restarted.exitcode == 0


def test_a_consumer_killed_after_its_database_commit_and_before_its_offset_commit_applies_nothing_twice(
    topic,
):
    # given
    consumer = two_accounts_three_credits(topic)

    # when: the consumer applies its first batch, commits the database, and is SIGKILLed
    killed = support.consumer_process(consumer, kill_after_batch=True)
    killed.join(60)
    assert killed.exitcode == -signal.SIGKILL
    applied_before_restart = InboxEvent.objects.filter(consumer=consumer.name).count()
    assert applied_before_restart >= 1
    # Kafka never heard of that batch: the group's offsets are where it started
    assert support.committed_offsets(consumer.name, topic) == {0: 0, 1: 0, 2: 0}

    # and a new consumer process starts where the group's offsets say
    restarted = run_until_caught_up(consumer, topic)

    # then: everything applied exactly once
    assert_applied_once(consumer, restarted)


def test_a_consumer_killed_in_the_middle_of_a_batch_leaves_nothing_of_it_and_applies_it_once_later(topic):
    # given
    consumer = two_accounts_three_credits(topic)

    # when: the consumer's handler has written its first batch's credits and the process is
    # SIGKILLed before the batch's transaction commits
    killed = support.consumer_process(consumer, kill_in_batch=True)
    killed.join(60)
    assert killed.exitcode == -signal.SIGKILL

    # then nothing of that batch stands: no credit, no inbox row
    assert account("a") == (0, 0) and account("b") == (0, 0)
    assert InboxEvent.objects.filter(consumer=consumer.name).count() == 0

    # and a new consumer process applies every event exactly once
    assert_applied_once(consumer, run_until_caught_up(consumer, topic))


def test_a_dead_letter_retried_once_its_cause_is_fixed_applies_it_and_then_what_was_parked(topic):
    support.produce(topic, credited("x", 1, 100), credited("x", 2, 200))
    consumer = support.ledger_consumer(topic)
    with support.consumer_thread(consumer):
        wait_until(lambda: caught_up(consumer, topic), timeout=30, message="the consumer to catch up")
    dead = DeadLetter.objects.get(consumer=consumer.name, status=DeadLetter.Status.DEAD)

    # when the cause is fixed and the dead letter retried
    support.open_account("x")
    with registered(consumer):
        dead_letter_retry(dead, by="support")

    # then
    assert account("x") == (300, 2)
    assert set(DeadLetter.objects.filter(consumer=consumer.name).values_list("status", flat=True)) == {
        "retried"
    }


def test_a_version_newer_than_the_consumer_knows_waits_for_its_upgrade_then_applies_in_order(topic):
    # given: a producer upgraded first writes TestCredited v3, which this consumer cannot read yet
    support.open_account("a")
    support.open_account("b")
    support.produce(
        topic,
        credited("a", 1, 100),
        credited("a", 2, 200, version=3),
        credited("a", 3, 50),
        credited("b", 1, 7),
    )
    consumer = support.ledger_consumer(topic)
    with support.consumer_thread(consumer):
        wait_until(lambda: caught_up(consumer, topic), timeout=30, message="the consumer to catch up")

    # then: it waits, not dead: its aggregate's later event is parked behind it, others flow on
    assert (account("a"), account("b")) == ((100, 1), (7, 1))
    letters = DeadLetter.objects.filter(consumer=consumer.name).order_by("offset")
    assert [(x.status, x.sequence) for x in letters] == [("waiting", 2), ("parked", 3)]
    assert "TestCredited v3 is newer than this service knows (v2): waiting for an upgrade" in letters[0].error

    # when: the consumer starts again with code that reads v3
    schemas.register("TestCredited", 3, support.CreditedV2, producer="tests", upcast=lambda v2: v2)
    try:
        with support.consumer_thread(consumer):
            wait_until(lambda: account("a") == (350, 3), timeout=30, message="the waiting events to apply")
    finally:
        schemas._registry["TestCredited"].pop(3)

    # then: applied in their order, nothing left open
    assert set(DeadLetter.objects.filter(consumer=consumer.name).values_list("status", flat=True)) == {
        "retried"
    }


def test_a_stale_duplicate_changes_nothing_even_when_its_event_id_is_new(topic):
    # A producer that re-sent an old change as a new event: the sequence check still holds.
    support.open_account("a")
    first = credited("a", 1, 100)
    support.produce(topic, first, dataclasses.replace(first, event_id="00000000-0000-4000-8000-000000000001"))
    consumer = support.ledger_consumer(topic)

    with support.consumer_thread(consumer):
        wait_until(lambda: caught_up(consumer, topic), timeout=30, message="the consumer to catch up")

    assert account("a") == (100, 1)


@pytest.mark.django_db(transaction=True)
def test_applying_one_message_on_its_own_costs_its_statements_and_one_transaction(
    topic, django_assert_num_queries
):
    # the dead-letter check; then BEGIN, the inbox row, the handler's own update, COMMIT
    support.open_account("a")
    consumer = support.ledger_consumer(topic)
    message = Message(topic, 0, 0, b"a", credited("a", 1, 100).to_json())

    with django_assert_num_queries(5):
        outcome = process(consumer, message)

    assert outcome == Outcome.APPLIED


@pytest.mark.django_db(transaction=True)
def test_a_batch_costs_the_same_statements_whatever_its_size(topic, django_assert_num_queries):
    # BEGIN; one inbox insert for every message; the handler's one update; COMMIT
    names = [f"acct-{n}" for n in range(50)]
    for name in names:
        support.open_account(name)
    consumer = support.ledger_consumer(topic)
    messages = [
        Message(topic, 0, n, name.encode(), credited(name, 1, 100).to_json()) for n, name in enumerate(names)
    ]

    with django_assert_num_queries(4):
        outcomes = process_batch(consumer, messages, parked=set())

    assert outcomes == [Outcome.APPLIED] * 50
    assert [account(name) for name in names] == [(100, 1)] * 50


@pytest.mark.django_db(transaction=True)
def test_a_batch_applies_each_aggregates_events_in_order_in_rounds(topic, django_assert_num_queries):
    # a's three credits are applied one round each: each sees the sequence the one before wrote
    support.open_account("a")
    support.open_account("b")
    consumer = support.ledger_consumer(topic)
    events = [credited("a", 1, 100), credited("b", 1, 10), credited("a", 2, 200), credited("a", 3, 300)]
    messages = [Message(topic, 0, n, e.key, e.to_json()) for n, e in enumerate(events)]

    with django_assert_num_queries(1 + 1 + 3 + 1):  # BEGIN, inbox, three rounds, COMMIT
        outcomes = process_batch(consumer, messages, parked=set())

    assert outcomes == [Outcome.APPLIED] * 4
    assert account("a") == (600, 3)
    assert account("b") == (10, 1)


@pytest.mark.django_db(transaction=True)
def test_an_event_twice_in_one_batch_is_applied_once(topic):
    support.open_account("a")
    consumer = support.ledger_consumer(topic)
    event = credited("a", 1, 100)
    messages = [Message(topic, 0, 0, b"a", event.to_json()), Message(topic, 0, 1, b"a", event.to_json())]

    outcomes = process_batch(consumer, messages, parked=set())

    assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert account("a") == (100, 1)


@pytest.mark.django_db(transaction=True)
def test_messages_of_types_the_consumer_does_not_handle_are_skipped_by_their_header_unread(topic):
    consumer = support.ledger_consumer(topic)
    unread = Message(topic, 0, 0, b"a", b"not even JSON", event_type="SomethingElse")

    assert process_batch(consumer, [unread], parked=set()) == [Outcome.SKIPPED]
    assert not DeadLetter.objects.filter(consumer=consumer.name).exists()


@pytest.mark.django_db(transaction=True)
def test_a_handler_failing_in_a_batch_rolls_the_whole_batch_back(topic):
    support.open_account("a")
    consumer = support.ledger_consumer(topic)
    messages = [
        Message(topic, 0, 0, b"a", credited("a", 1, 100).to_json()),
        Message(topic, 0, 1, b"x", credited("x", 1, 100).to_json()),  # no account x: the handler raises
    ]

    with pytest.raises(BatchAborted, match="NoSuchAccount"):
        process_batch(consumer, messages, parked=set())

    assert account("a") == (0, 0)
    assert not InboxEvent.objects.filter(consumer=consumer.name).exists()


def test_a_batch_with_a_failing_handler_is_applied_message_by_message(topic):
    # given: good credits around one that fails, all in the topic before the consumer starts
    support.open_account("a")
    support.open_account("b")
    support.produce(
        topic, credited("a", 1, 100), credited("x", 1, 100), credited("b", 1, 50), credited("a", 2, 5)
    )
    consumer = support.ledger_consumer(topic)

    with support.consumer_thread(consumer):
        wait_until(lambda: caught_up(consumer, topic), timeout=30, message="the consumer to catch up")

    # then: the good ones applied once each, the failing one dead-lettered after its retries
    assert account("a") == (105, 2)
    assert account("b") == (50, 1)
    assert list(DeadLetter.objects.filter(consumer=consumer.name).values_list("status", "aggregate_id")) == [
        ("dead", "x")
    ]


def test_the_consumer_reports_its_lag_per_partition(topic):
    support.open_account("a")
    support.produce(topic, credited("a", 1, 100), credited("a", 2, 100))
    consumer = support.ledger_consumer(topic)

    with support.consumer_thread(consumer):
        wait_until(lambda: caught_up(consumer, topic), timeout=30, message="the consumer to catch up")

    partition = support.find_on_topic(topic, lambda m: True).partition()
    lag = REGISTRY.get_sample_value(
        "events_consumer_lag", {"consumer": consumer.name, "topic": topic, "partition": str(partition)}
    )
    assert lag == 0


def test_a_group_commits_where_it_starts_so_a_backlog_on_a_partition_it_never_read_is_seen(topic):
    # given a group that joined while its topic was empty, and then left (its workers stopped)
    consumer = support.ledger_consumer(topic)
    with support.consumer_thread(consumer):
        wait_until(
            lambda: support.committed_offsets(consumer.name, topic) == {0: 0, 1: 0, 2: 0},
            timeout=30,
            message="the group to commit its starting offsets",
        )
    # when an event arrives, on a partition the group has never read a message of
    support.produce(topic, credited("a", 1, 100))

    # then the pipeline's probe counts it as waiting
    probe = pipeline.Probe(topics=[topic])
    try:
        assert probe.group(consumer.name).backlog == 1
    finally:
        probe.close()


def test_rebalances_as_consumers_join_and_leave_neither_lose_nor_double_apply_an_event(topic):
    accounts = [f"acct-{i}" for i in range(30)]
    for name in accounts:
        support.open_account(name)
    consumer = support.ledger_consumer(topic)

    def wave(sequence):
        support.produce(topic, *[credited(name, sequence, 1) for name in accounts])

    with support.consumer_thread(consumer):
        wave(1)
        with support.consumer_thread(consumer):  # a second member joins: partitions move
            wave(2)
            wait_until(lambda: caught_up(consumer, topic), timeout=60, message="two members to catch up")
        wave(3)  # the second member left: its partitions come back to the first
        wait_until(lambda: caught_up(consumer, topic), timeout=60, message="the first member to catch up")

    assert {name: account(name) for name in accounts} == dict.fromkeys(accounts, (3, 3))
    assert InboxEvent.objects.filter(consumer=consumer.name).count() == 3 * len(accounts)


@pytest.mark.django_db(transaction=True)
def test_a_dead_letter_redelivered_before_its_offset_was_committed_keeps_its_place_in_line(topic):
    consumer = support.ledger_consumer(topic)
    poison = Message(topic, 0, 5, b"a", b"not an event")
    later = Message(topic, 0, 6, b"a", credited("a", 2, 100).to_json())
    assert process(consumer, poison) == Outcome.DEAD
    assert process(consumer, later) == Outcome.PARKED

    # the consumer died before committing offsets: both come again
    assert process(consumer, poison) == Outcome.PARKED
    assert process(consumer, later) == Outcome.PARKED

    statuses = (
        DeadLetter.objects.filter(consumer=consumer.name).order_by("offset").values_list("status", flat=True)
    )
    assert list(statuses) == ["dead", "parked"]


class Handoff:
    """A consumer's handoff whose fullness the test sets, counting how often the loop asks."""

    def __init__(self):
        self.is_full = threading.Event()
        self.asked = 0
        self.closed = False

    def full(self) -> bool:
        self.asked += 1
        return self.is_full.is_set()

    def close(self, timeout: float) -> None:
        self.closed = True


def test_a_consumer_whose_handoff_is_full_takes_no_message_until_it_has_room(topic):
    # given a consumer whose handed-off work is full from the start
    support.open_account("a")
    handoff = Handoff()
    handoff.is_full.set()
    consumer = dataclasses.replace(support.ledger_consumer(topic), handoff=lambda: handoff)
    support.produce(topic, credited("a", 1, 100))

    with support.consumer_thread(consumer):
        # when: it has been asked many times, its partitions assigned and paused meanwhile
        wait_until(lambda: handoff.asked > 100, timeout=30, message="the loop to wait on its handoff")
        # then: nothing was applied
        assert account("a") == (0, 0)

        # when: there is room, the message is applied
        handoff.is_full.clear()
        wait_until(lambda: account("a") == (100, 1), timeout=30, message="the event once there is room")

        # and when it is full again, with its partitions held, the next message waits too
        handoff.is_full.set()
        asked = handoff.asked
        support.produce(topic, credited("a", 2, 50))
        wait_until(lambda: handoff.asked > asked + 100, timeout=30, message="the loop to wait again")
        assert account("a") == (100, 1)
        handoff.is_full.clear()
        wait_until(
            lambda: account("a") == (150, 2), timeout=30, message="the second event once there is room"
        )

    assert handoff.closed, "the loop closes its handoff as it stops"
