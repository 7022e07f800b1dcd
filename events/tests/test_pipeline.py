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
