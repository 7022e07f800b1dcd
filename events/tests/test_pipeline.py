"""The pipeline's delay, measured from a real broker and this service's outbox, and read back."""

import time
import uuid
from datetime import timedelta

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from django.test import override_settings
from django.utils import timezone

from events import kafka, pipeline
from events.models import OutboxEvent, PipelineStage
from events.publishing import publish

pytestmark = pytest.mark.django_db


def produce_aged(topic: str, partition: int, ages: list[float]) -> None:
    """Messages on one partition whose timestamps are these many seconds in the past."""
    producer = Producer(kafka.client_config())
    for age in ages:
        producer.produce(topic, value=b"{}", partition=partition, timestamp=int((time.time() - age) * 1000))
    assert producer.flush(30) == 0


def commit(group: str, topic: str, offsets: dict[int, int]) -> None:
    """The group's committed offsets, as its consumers would have left them."""
    client = Consumer(kafka.client_config(**{"group.id": group, "enable.auto.commit": False}))
    try:
        client.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
    finally:
        client.close()


@pytest.fixture
def group():
    name = f"test-group-{uuid.uuid4().hex[:8]}"
    with override_settings(EVENTS_CONSUMER_GROUP_PREFIX=""):
        yield name


@pytest.fixture
def probe(topic):
    watching = pipeline.Probe(topics=[topic])
    yield watching
    watching.close()


def test_a_group_behind_is_as_old_as_its_oldest_event_not_applied(topic, group, probe):
    # given three events on partition 0 aged 90, 60 and 30 s, one on partition 1 aged 45 s; the
    # group applied the first on partition 0 and nothing on partition 1 yet
    produce_aged(topic, 0, [90, 60, 30])
    produce_aged(topic, 1, [45])
    commit(group, topic, {0: 1, 1: 0})

    # when
    position = probe.group(group)

    # then: three events wait, the oldest of them 60 s old
    assert position.backlog == 3
    assert 59 <= position.delay_seconds < 70
    assert position.position == 1


def test_a_group_caught_up_is_not_behind(topic, group, probe):
    produce_aged(topic, 0, [90, 60])
    commit(group, topic, {0: 2})

    position = probe.group(group)

    assert (position.backlog, position.delay_seconds) == (0, 0.0)


def test_a_group_that_never_committed_reads_nothing_here(topic, group, probe):
    produce_aged(topic, 0, [90])

    assert probe.group(group) == pipeline.GroupPosition(0.0, 0, 0)


def test_measuring_stores_each_stage_and_whether_it_moved(topic, group, probe):
    # given a group behind on its topic, and an outbox row waiting 20 s
    produce_aged(topic, 0, [90, 60, 30])
    commit(group, topic, {0: 1})
    publish(
        "TestCredited",
        aggregate_type="account",
        aggregate_id="a",
        sequence=1,
        payload={"amount_cents": 1, "memo": "m"},
    )
    OutboxEvent.objects.update(created_at=timezone.now() - timedelta(seconds=20))

    # when measured twice, the group moving between the two and the outbox not
    pipeline.stages_measure(probe, [group])
    first = {s.name: s for s in PipelineStage.objects.all()}
    commit(group, topic, {0: 2})
    pipeline.stages_measure(probe, [group])
    second = {s.name: s for s in PipelineStage.objects.all()}

    # then
    stage = pipeline.consumer_stage(group)
    assert (second[stage].backlog, second[stage].position) == (1, 2)
    assert 29 <= second[stage].delay_seconds < 40
    assert second[stage].progressed_at == second[stage].measured_at  # it moved
    assert second[pipeline.OUTBOX].backlog == 1
    assert second[pipeline.OUTBOX].delay_seconds >= 19  # now() is when the test transaction began
    assert second[pipeline.OUTBOX].progressed_at == first[pipeline.OUTBOX].progressed_at  # it did not


def group_applied(topic: str, group: str, applied: int, ages: list[float]) -> str:
    """Messages of these ages on partition 0, the group's offset after the first `applied`; its stage."""
    produce_aged(topic, 0, ages)
    commit(group, topic, {0: applied})
    return pipeline.consumer_stage(group)


def measured_before(stage: str, *, seconds_ago: float, position: int, backlog: int, drain: float) -> None:
    """The stage as the watcher's previous measurement left it."""
    at = timezone.now() - timedelta(seconds=seconds_ago)
    PipelineStage.objects.create(
        name=stage,
        delay_seconds=1.0 if backlog else 0.0,
        backlog=backlog,
        position=position,
        drain_per_second=drain,
        progressed_at=at,
        measured_at=at,
    )


def test_a_busy_stage_drains_at_its_rate_smoothed_and_its_wait_is_the_backlog_at_that_rate(
    topic, group, probe
):
    # given a group that applied 4 events in the 2 s since it was measured with 8 waiting,
    # working off 1 a second then; 6 wait now
    stage = group_applied(topic, group, 4, [5] * 10)
    measured_before(stage, seconds_ago=2, position=0, backlog=8, drain=1.0)

    # when
    pipeline.stages_measure(probe, [group])

    # then 2 a second now, weighed with the 1 before; 6 waiting at that rate
    found = pipeline.delays()[stage]
    assert found.drain_per_second == pytest.approx(1.5, rel=0.05)
    assert found.wait_seconds == pytest.approx(6 / 1.5, rel=0.05)
    assert 4 <= found.seconds < 10  # the oldest event's age, apart


def test_a_stage_that_had_nothing_waiting_has_no_known_rate_and_waits_as_long_as_its_oldest_event(
    topic, group, probe
):
    # given a group with nothing waiting when last measured: since then it worked only part of
    # the time, at the pace events came (a burst beginning), not at the pace it can
    stage = group_applied(topic, group, 4, [5] * 10)
    measured_before(stage, seconds_ago=2, position=0, backlog=0, drain=0.5)

    pipeline.stages_measure(probe, [group])

    found = pipeline.delays()[stage]
    assert found.drain_per_second == 0.0
    assert found.wait_seconds == found.seconds and 4 <= found.seconds < 10


def test_a_busy_stage_whose_rate_was_not_known_drains_at_its_latest_rate(topic, group, probe):
    stage = group_applied(topic, group, 4, [5] * 10)
    measured_before(stage, seconds_ago=2, position=0, backlog=8, drain=0.0)

    pipeline.stages_measure(probe, [group])

    assert pipeline.delays()[stage].drain_per_second == pytest.approx(2.0, rel=0.05)


def test_a_stage_whose_position_went_back_waits_as_long_as_its_oldest_event(topic, group, probe):
    # given a group measured further on than it is now (its offsets reset for a replay)
    stage = group_applied(topic, group, 1, [30, 20, 10])
    measured_before(stage, seconds_ago=1, position=3, backlog=2, drain=50.0)

    pipeline.stages_measure(probe, [group])

    found = pipeline.delays()[stage]
    assert found.drain_per_second == 0.0  # not known
    assert found.wait_seconds == found.seconds and 19 <= found.seconds < 30


def test_a_busy_stage_that_did_not_move_is_stopped_not_slow_and_waits_as_long_as_its_oldest_event(
    topic, group, probe
):
    # given a group that worked off 100 a second until its last measurement and has not moved since
    stage = group_applied(topic, group, 4, [5] * 10)
    measured_before(stage, seconds_ago=1, position=4, backlog=6, drain=100.0)

    pipeline.stages_measure(probe, [group])

    found = pipeline.delays()[stage]
    assert found.drain_per_second == 0.0
    assert found.wait_seconds == found.seconds and 4 <= found.seconds < 10


def test_the_outbox_drains_at_the_rate_its_rows_are_published(probe):
    # given two rows published since the outbox was last measured with three waiting, and one waiting
    for sequence in (1, 2, 3):
        publish(
            "TestCredited",
            aggregate_type="account",
            aggregate_id="a",
            sequence=sequence,
            payload={"amount_cents": 1, "memo": "m"},
        )
    OutboxEvent.objects.update(created_at=timezone.now() - timedelta(seconds=10))
    first = OutboxEvent.objects.order_by("id").first().id
    OutboxEvent.objects.filter(id__lt=first + 2).update(published_at=timezone.now())
    measured_before(pipeline.OUTBOX, seconds_ago=2, position=first - 1, backlog=3, drain=0.0)

    pipeline.stages_measure(probe, [])

    found = pipeline.delays()[pipeline.OUTBOX]
    assert (found.backlog, found.drain_per_second) == (1, pytest.approx(1.0, rel=0.05))
    assert found.wait_seconds == pytest.approx(1.0, rel=0.05)


def test_a_wait_is_at_most_a_few_times_the_oldest_events_age():
    # a burst's first second: 1,000 waiting, read as worked off at 10 a second by workers that
    # are only waking; the oldest of them half a second old
    delay = pipeline.Delay(
        "consumer:a", 0.5, 1000, False, False, timezone.now(), drain_per_second=10.0, backlog_grew=True
    )

    assert delay.wait_seconds == pipeline.WAIT_PER_AGE_MAX * 0.5


def test_a_backlog_that_shrinks_waits_at_most_as_long_as_its_oldest_event():
    # restarted workers catching up: 300 waiting, fewer than a second before, at a rate smoothed
    # from their first slow seconds (30 a second); the oldest event 2 s old
    delay = pipeline.Delay("consumer:a", 2.0, 300, False, False, timezone.now(), drain_per_second=30.0)

    assert delay.wait_seconds == 2.0


def test_measuring_stores_whether_the_backlog_grew(topic, group, probe):
    # given a group last measured with 3 waiting, and 6 waiting now
    stage = group_applied(topic, group, 4, [5] * 10)
    measured_before(stage, seconds_ago=1, position=2, backlog=3, drain=2.0)

    pipeline.stages_measure(probe, [group])
    grew = pipeline.delays()[stage].backlog_grew
    # and measured again with as many waiting
    pipeline.stages_measure(probe, [group])

    assert (grew, pipeline.delays()[stage].backlog_grew) == (True, False)


def test_nothing_waiting_is_no_wait():
    delay = pipeline.Delay("consumer:a", 0.0, 0, False, False, timezone.now(), drain_per_second=0.0)

    assert delay.wait_seconds == 0.0


@override_settings(PIPELINE_STALL_SECONDS=15, PIPELINE_STALE_SECONDS=10)
def test_a_stage_that_has_not_moved_for_the_stall_bound_is_stalled(pipeline_measured):
    pipeline_measured({"consumer:a": 5.0, "consumer:b": 5.0, "consumer:c": 0.0}, stalled={"consumer:a"})

    found = pipeline.delays()

    assert {name: d.stalled for name, d in found.items()} == {
        "consumer:a": True,
        "consumer:b": False,
        "consumer:c": False,
    }
    assert not any(d.stale for d in found.values())


@override_settings(PIPELINE_STALE_SECONDS=10)
def test_a_measurement_older_than_the_stale_bound_is_stale(pipeline_measured):
    pipeline_measured({"consumer:a": 0.0}, ago=11)

    assert pipeline.delays()["consumer:a"].stale


def test_the_watcher_measures_once_and_stores_the_outbox(settings):
    from django.core.management import call_command

    settings.PIPELINE_WATCHED_CONSUMERS = []
    call_command("watch_pipeline", "--once")

    assert PipelineStage.objects.get(name=pipeline.OUTBOX).backlog == 0
