"""How far behind the pipeline is, stage by stage, in seconds: the delay that backpressure,
readiness, alerts, the saga's timeouts and reconciliation all read.

A stage is a consumer group (`consumer:<name>`) or this service's outbox (`outbox`). Its delay
is the age of the oldest event it has not yet applied (published, for the outbox), 0 when
nothing waits. For a consumer group it is read from Kafka, so any service can measure any
group: the group's committed offsets against the partitions' high watermarks, and where a
partition lags, the timestamp of the message at the committed offset. Offsets are committed
every EVENTS_CONSUMER_COMMIT_INTERVAL_MS, so a busy group reads up to that much behind.

Its *wait* is how long an event arriving now would wait there: its backlog at the rate it has
lately worked events off (Little's law). Under a growing backlog the wait runs ahead of the
oldest event's age (with events coming at twice the rate the stage works, at twice that age),
so backpressure reads the wait: the age says how late the stage is, the wait how late it is
about to be.

`manage.py watch_pipeline` measures every PIPELINE_WATCH_INTERVAL_SECONDS and stores the stages
(events.models.PipelineStage); everything else reads that table, one small query, never Kafka.
A stage is *stalled* when events wait and it made no progress for PIPELINE_STALL_SECONDS: an
outage (its processes stopped or stuck), not a backlog. A measurement older than
PIPELINE_STALE_SECONDS is *stale*: nobody knows how far behind the pipeline is.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition
from django.conf import settings
from django.utils import timezone

from events import kafka
from events.consumers import consumers
from events.models import PipelineStage
from events.outbox import outbox_oldest
from events.topics import SERVICES, event_topic

logger = logging.getLogger(__name__)

OUTBOX = "outbox"
TIMEOUT_SECONDS = 5
# The drain rate's smoothing: the weight of the latest measurement against the rate before it.
DRAIN_SMOOTHING = 0.5
# A stage's wait is at most this many times its oldest event's age. In a backlog that grows, the
# wait is the age times the ratio of the events' pace to the stage's; the overloads the door meets
# stay under three times the capacity, while in a burst's first second or two (workers waking,
# starved of CPU by the web processes taking the burst) the rate read is briefly far below what
# the stage then does, and the wait, uncapped, closed the door on the brief's own rate.
WAIT_PER_AGE_MAX = 3


def consumer_stage(consumer_name: str) -> str:
    return f"consumer:{consumer_name}"


@dataclass(frozen=True)
class GroupPosition:
    """A consumer group as Kafka sees it now."""

    delay_seconds: float
    backlog: int
    position: int


class Probe:
    """Reads consumer groups' positions from Kafka; one per watcher (it keeps its clients).

    Plain consumers, not the admin API (as bench/stack.py's sampler): an admin request pending
    while the broker went away has aborted the process inside librdkafka (confluent-kafka-python
    #1640). A client with a group's id that never subscribes reads the group's committed offsets
    without joining it.
    """

    def __init__(self, topics: list[str] | None = None):
        """`topics`: the topics whose partitions a group may read (the services' event topics by
        default, looked up once)."""
        quiet = {"log_level": 0}
        self._ends = Consumer(kafka.client_config(**quiet, **{"group.id": "oms-pipeline-probe"}))
        self._reader = Consumer(
            kafka.client_config(
                **quiet,
                **{
                    "group.id": "oms-pipeline-probe",
                    "enable.auto.commit": False,
                    # One message per lagging partition is all a probe reads.
                    "max.partition.fetch.bytes": 1024,
                    "fetch.wait.max.ms": 10,
                },
            )
        )
        self._groups: dict[str, Consumer] = {}
        self._topics = set(topics) if topics is not None else {event_topic(s) for s in SERVICES}
        self._partitions: list[TopicPartition] | None = None

    def close(self) -> None:
        for client in (self._ends, self._reader, *self._groups.values()):
            client.close()

    def group(self, consumer_name: str) -> GroupPosition:
        """The group's position; raises KafkaException when Kafka does not answer."""
        group = settings.EVENTS_CONSUMER_GROUP_PREFIX + consumer_name
        if group not in self._groups:
            self._groups[group] = Consumer(
                kafka.client_config(**{"log_level": 0, "group.id": group, "enable.auto.commit": False})
            )
        # A partition the group never committed is one it does not read (offset < 0).
        committed = [
            p
            for p in self._groups[group].committed(self._event_partitions(), timeout=TIMEOUT_SECONDS)
            if p.offset >= 0
        ]
        if not committed:
            return GroupPosition(0.0, 0, 0)
        ends = self._ends.offsets_for_times(
            [TopicPartition(p.topic, p.partition, OFFSET_END) for p in committed], timeout=TIMEOUT_SECONDS
        )
        highs = {(p.topic, p.partition): p.offset for p in ends}
        lagging = [p for p in committed if highs[(p.topic, p.partition)] > p.offset]
        backlog = sum(highs[(p.topic, p.partition)] - p.offset for p in lagging)
        oldest = self._oldest_timestamp(lagging)
        delay = max(time.time() - oldest, 0.0) if oldest is not None else 0.0
        return GroupPosition(delay, backlog, sum(p.offset for p in committed))

    def _event_partitions(self) -> list[TopicPartition]:
        """Every partition of the topics watched (looked up once)."""
        if self._partitions is None:
            topics = self._ends.list_topics(timeout=TIMEOUT_SECONDS).topics
            self._partitions = [
                TopicPartition(name, partition)
                for name, topic in sorted(topics.items())
                if name in self._topics
                for partition in topic.partitions
            ]
        return self._partitions

    def _oldest_timestamp(self, partitions: list[TopicPartition]) -> float | None:
        """The earliest timestamp (epoch seconds) among the messages at these offsets."""
        if not partitions:
            return None
        wanted = {(p.topic, p.partition) for p in partitions}
        self._reader.assign([TopicPartition(p.topic, p.partition, p.offset) for p in partitions])
        found: list[float] = []
        deadline = time.monotonic() + TIMEOUT_SECONDS
        try:
            while wanted and time.monotonic() < deadline:
                message = self._reader.poll(0.2)
                if message is None or message.error():
                    continue
                if (message.topic(), message.partition()) in wanted:
                    wanted.discard((message.topic(), message.partition()))
                    found.append(message.timestamp()[1] / 1000)
        finally:
            self._reader.unassign()
        return min(found) if found else None


def stages_measure(probe: Probe, consumer_names: list[str]) -> list[PipelineStage]:
    """Measure this service's outbox and the named consumer groups, and store what was measured
    (a group Kafka did not answer for keeps its last row, which then goes stale)."""
    now = timezone.now()
    previous = {stage.name: stage for stage in PipelineStage.objects.all()}
    # The outbox's position is how many rows it published.
    backlog, published, oldest_age = outbox_oldest()
    measured = [_stage(previous.get(OUTBOX), OUTBOX, oldest_age, backlog, published, now)]
    for name in consumer_names:
        try:
            group = probe.group(name)
        except (KafkaException, TimeoutError) as exc:
            logger.warning("consumer group %s not measured: %s", name, exc)
            continue
        stage = consumer_stage(name)
        measured.append(
            _stage(previous.get(stage), stage, group.delay_seconds, group.backlog, group.position, now)
        )
    PipelineStage.objects.bulk_create(
        measured,
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=[
            "delay_seconds",
            "backlog",
            "position",
            "drain_per_second",
            "backlog_grew",
            "progressed_at",
            "measured_at",
        ],
    )
    return measured


def _stage(previous, name, delay, backlog, position, now) -> PipelineStage:
    moved = previous is None or position != previous.position or backlog == 0
    return PipelineStage(
        name=name,
        delay_seconds=round(delay, 3),
        backlog=backlog,
        position=position,
        drain_per_second=round(_drain(previous, position, now), 3),
        backlog_grew=backlog > (previous.backlog if previous is not None else 0),
        progressed_at=now if moved else previous.progressed_at,
        measured_at=now,
    )


def _drain(previous: PipelineStage | None, position: int, now: datetime) -> float:
    """Events a second the stage worked off since its previous measurement, smoothed with the
    rate before it. Only a stage that had events waiting all along shows the pace it can work
    at: one that had nothing waiting at its previous measurement worked at the pace events came,
    or was idle part of the time (a burst beginning), so its rate is not known yet (0), and
    neither is it after a gap in the measurements or a position that went back (a replay). A
    stage that did not move at all is stopped (a frozen worker, the broker gone), not slow: its
    rate is not known either, and its wait is its oldest event's age, which grows only with the
    time, while the door tells an outage from an overload (make chaos: a worker frozen 15 s,
    its rate smoothed towards 0, had the door refuse 172 orders in its first seconds)."""
    if previous is None or not previous.backlog:
        return 0.0
    elapsed = (now - previous.measured_at).total_seconds()
    moved = position - previous.position
    if elapsed <= 0 or elapsed > settings.PIPELINE_STALE_SECONDS or moved <= 0:
        return 0.0
    rate = moved / elapsed
    if not previous.drain_per_second:
        return rate
    return DRAIN_SMOOTHING * rate + (1 - DRAIN_SMOOTHING) * previous.drain_per_second


@dataclass(frozen=True)
class Delay:
    """A stage as read back: how far behind, and whether it is an outage or unknown."""

    name: str
    seconds: float
    backlog: int
    stalled: bool
    stale: bool
    measured_at: datetime
    # How long it had gone without progress when measured (0 while it moves or has nothing to do).
    idle_seconds: float = 0.0
    # Events it worked off a second lately (0: not known).
    drain_per_second: float = 0.0
    # Whether its backlog grew since the measurement before.
    backlog_grew: bool = False

    @property
    def wait_seconds(self) -> float:
        """How long an event arriving now would wait here: the backlog at the stage's drain rate,
        at most WAIT_PER_AGE_MAX times the oldest event's age while the backlog grows, and at most
        that age while it shrinks (a queue working off more than comes makes each new event wait
        less than those before it); that age while the rate is not known (nothing waits: 0)."""
        if not self.backlog:
            return 0.0
        if self.drain_per_second > 0:
            cap = WAIT_PER_AGE_MAX * self.seconds if self.backlog_grew else self.seconds
            return min(self.backlog / self.drain_per_second, cap)
        return self.seconds

    def describe(self) -> str:
        if self.stale:
            return f"{self.name} not measured since {self.measured_at:%H:%M:%S} (is watch_pipeline running?)"
        if self.stalled:
            return f"{self.name} stalled {self.seconds:.0f} s behind ({self.backlog} events waiting)"
        return f"{self.name} {self.seconds:.1f} s behind ({self.backlog} events waiting)"


def delays(names: list[str] | None = None, *, now: datetime | None = None) -> dict[str, Delay]:
    """The stored stages (those named, or all), by name; a stage never measured is absent."""
    now = now or timezone.now()
    stall = timedelta(seconds=settings.PIPELINE_STALL_SECONDS)
    stale = timedelta(seconds=settings.PIPELINE_STALE_SECONDS)
    rows = PipelineStage.objects.all() if names is None else PipelineStage.objects.filter(name__in=names)
    found = {}
    for row in rows:
        is_stale = now - row.measured_at > stale
        # As measured: a stage measured a moment ago also moved on since (a stale one is unknown).
        idle = row.measured_at - row.progressed_at
        stalled = bool(row.backlog) and idle > stall
        found[row.name] = Delay(
            row.name,
            row.delay_seconds,
            row.backlog,
            stalled,
            is_stale,
            row.measured_at,
            idle.total_seconds(),
            row.drain_per_second,
            row.backlog_grew,
        )
    return found


def own_stages() -> list[str]:
    """This service's stages: its outbox and its consumers' groups."""
    return [OUTBOX, *(consumer_stage(name) for name in consumers())]
