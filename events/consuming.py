"""The consumer loop that `manage.py consume` runs: Kafka in batches, at-least-once.

A message's offset is stored only after it was applied (a batch in one database transaction;
when a handler fails, each message in its own, see events/processing.py), and librdkafka
commits the stored offsets every EVENTS_CONSUMER_COMMIT_INTERVAL_MS, when partitions are
revoked and on close. A crash at any line re-delivers at most what was applied since the last
commit, which the inbox then recognises. On SIGTERM the loop finishes the batch, commits, and
leaves the group cleanly.

Batches grow with the load by themselves (what arrived while one batch was applied is the next
one), and the broker holds a fetch until EVENTS_CONSUMER_FETCH_MIN_BYTES have come or
EVENTS_CONSUMER_FETCH_WAIT_MS have passed (docs/benchmarks.md has the measurements behind the
defaults). Nothing else costs a round trip per batch: no connection health check (a failed
statement closes the connection and the loop backs off), and the parked aggregates are kept in
memory (events/parked.py).
"""

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable

from confluent_kafka import OFFSET_INVALID, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka import Consumer as KafkaConsumer
from django.conf import settings
from django.db import DatabaseError, connections

from events import kafka, metrics
from events.consumers import Consumer
from events.dead_letters import dead_letters_upgraded_retry
from events.parked import ParkedAggregates
from events.processing import (
    HOLDING,
    BatchAborted,
    InfrastructureError,
    Message,
    Outcome,
    process,
    process_batch,
)
from events.topics import dead_letter_topic

logger = logging.getLogger(__name__)


# How long a new assignment may wait on the broker for its starting offsets (_on_assign).
ASSIGN_TIMEOUT_SECONDS = 10
# How long a stopping loop lets its handoff finish the calls it has in flight.
HANDOFF_CLOSE_SECONDS = 10
# How often a paused loop looks whether its handoff has room again (and serves the group).
PAUSED_POLL_SECONDS = 0.02


class TooManyErrors(RuntimeError):
    """The loop failed too often in a row: exit so the process manager restarts it."""


class ConsumerLoop:
    def __init__(
        self,
        consumer: Consumer,
        *,
        batch_size: int = 200,
        poll_timeout: float = 1.0,
        stop: threading.Event | None = None,
        after_batch: Callable[[list[Message]], None] | None = None,
    ):
        self.consumer = consumer
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.stop = stop or threading.Event()
        # Called after a batch is applied and before its offsets are stored for the next commit.
        self.after_batch = after_batch
        self._kafka: KafkaConsumer | None = None
        self._producer: Producer | None = None
        self._parked = ParkedAggregates(consumer)
        self._consecutive_errors = 0

    def run(self) -> None:
        self._kafka = KafkaConsumer(
            kafka.client_config(
                **{
                    "group.id": settings.EVENTS_CONSUMER_GROUP_PREFIX + self.consumer.name,
                    # At-least-once: only offsets of applied messages are stored (_store_offsets), and
                    # librdkafka sends the stored ones every interval, on revocation and on close.
                    "enable.auto.commit": True,
                    "auto.commit.interval.ms": settings.EVENTS_CONSUMER_COMMIT_INTERVAL_MS,
                    "enable.auto.offset.store": False,
                    "auto.offset.reset": "earliest",
                    "partition.assignment.strategy": "cooperative-sticky",
                    "session.timeout.ms": settings.EVENTS_CONSUMER_SESSION_TIMEOUT_MS,
                    "max.poll.interval.ms": 300000,
                    # The batching window: the broker answers a fetch once this much has come, or
                    # after this long (a quiet consumer's fetches wait no longer than that either).
                    "fetch.min.bytes": settings.EVENTS_CONSUMER_FETCH_MIN_BYTES,
                    "fetch.wait.max.ms": settings.EVENTS_CONSUMER_FETCH_WAIT_MS,
                }
            )
        )
        self._kafka.subscribe(
            list(self.consumer.topics),
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        logger.info("consumer %s reading %s", self.consumer.name, ", ".join(self.consumer.topics))
        self._retry_upgraded()
        handoff = self.consumer.handoff() if self.consumer.handoff else None
        try:
            while not self.stop.is_set():
                if handoff is not None and handoff.full():
                    self._pause_while_full(handoff)
                    continue
                # Block for one message, then take what is already fetched: consume() alone would
                # wait out its whole timeout for a full batch, adding that much latency to each event.
                first = self._kafka.poll(self.poll_timeout)
                if first is not None:
                    self._run_batch([first, *self._kafka.consume(self.batch_size - 1, timeout=0)])
        finally:
            if handoff is not None:
                handoff.close(HANDOFF_CLOSE_SECONDS)  # what it holds stays in the database
            self._kafka.close()  # commits the stored offsets; leaves the group at once
            self._parked.close()
            if self._producer is not None:
                self._producer.flush(10)
            logger.info("consumer %s stopped", self.consumer.name)

    def _pause_while_full(self, handoff) -> None:
        """Take no message until the handoff has room: the partitions are paused (the group keeps
        them, and polling goes on serving rebalances), then resumed where they stood."""
        self._kafka.pause(self._kafka.assignment())
        started = time.monotonic()
        try:
            while handoff.full() and not self.stop.is_set():
                message = self._kafka.poll(PAUSED_POLL_SECONDS)
                if message is not None:  # from a partition assigned while paused: pause it too,
                    self._kafka.pause(self._kafka.assignment())  # and back to this message
                    if not message.error():
                        self._kafka.seek(
                            TopicPartition(message.topic(), message.partition(), message.offset())
                        )
        finally:
            self._kafka.resume(self._kafka.assignment())
            metrics.CONSUMER_PAUSED_SECONDS.labels(self.consumer.name).inc(time.monotonic() - started)

    def _retry_upgraded(self) -> None:
        """Apply the letters that waited for this code to read their version (an upgrade)."""
        try:
            dead_letters_upgraded_retry(self.consumer)
        except (InfrastructureError, DatabaseError) as exc:
            logger.warning("letters waiting for an upgrade not retried now: %s", exc)
        except Exception:  # they wait on, retried by support or at the next start: consuming goes on
            logger.exception("letters waiting for an upgrade could not be retried")

    def _run_batch(self, batch) -> None:
        messages = []
        for raw in batch:
            if raw.error():
                if raw.error().code() != KafkaError._PARTITION_EOF:
                    logger.error("Kafka error: %s", raw.error())
                continue
            messages.append(Message.from_kafka(raw))
        if not messages:
            return
        metrics.BATCH_SIZE.labels(self.consumer.name).observe(len(messages))
        applied: list[Message] = []
        outcomes: Counter[Outcome] = Counter()
        try:
            parked = self._parked.current()
            together = self._apply_together(messages, parked)
            if together is not None:
                for message, outcome in zip(messages, together, strict=True):
                    self._record(message, outcome, outcomes)
                    applied.append(message)
            else:
                self._parked.invalidate()  # the rolled-back batch may have added to it
                parked = self._parked.current()
                for message in messages:
                    outcome = process(self.consumer, message, blocked=message.aggregate_id in parked)
                    if outcome in HOLDING:
                        parked.add(message.aggregate_id)
                    self._record(message, outcome, outcomes)
                    applied.append(message)
        except InfrastructureError as exc:
            self._parked.invalidate()
            self._back_off(exc)
        finally:
            for outcome, count in outcomes.items():
                metrics.CONSUMED.labels(self.consumer.name, outcome).inc(count)
            if applied and self.after_batch:
                self.after_batch(applied)
            self._store_offsets(applied)
            self._rewind(messages, applied)
        self._record_lag(messages)
        if len(applied) == len(messages):
            self._consecutive_errors = 0

    def _apply_together(self, messages: list[Message], parked: set[str]) -> list[Outcome] | None:
        """The batch in one transaction, or None when a handler failed and nothing was applied."""
        try:
            return process_batch(self.consumer, messages, parked=parked)
        except BatchAborted as exc:
            logger.info("batch of %s rolled back (%s); applying its messages one by one", len(messages), exc)
            metrics.BATCHES_SPLIT.labels(self.consumer.name).inc()
            return None

    def _record(self, message: Message, outcome: Outcome, outcomes: Counter) -> None:
        if outcome == Outcome.DEAD:
            self._send_to_dead_letter_topic(message)
        outcomes[outcome] += 1

    def _store_offsets(self, applied: list[Message]) -> None:
        if not applied:
            return
        latest: dict[tuple[str, int], int] = {}
        for message in applied:
            latest[(message.topic, message.partition)] = message.offset + 1
        try:
            self._kafka.store_offsets(offsets=[TopicPartition(t, p, o) for (t, p), o in latest.items()])
        except KafkaException as exc:
            # The partitions were taken away meanwhile (e.g. this process was frozen past its
            # session): their new owner re-reads these messages, and its inbox knows them.
            logger.warning("offsets of %s applied messages not stored: %s", len(applied), exc)

    def _rewind(self, messages: list[Message], applied: list[Message]) -> None:
        """Seek each partition back to its first message that was not applied."""
        done = {(m.topic, m.partition, m.offset) for m in applied}
        first_left: dict[tuple[str, int], int] = {}
        for m in messages:
            if (m.topic, m.partition, m.offset) not in done:
                first_left.setdefault((m.topic, m.partition), m.offset)
        for (topic, partition), offset in first_left.items():
            self._kafka.seek(TopicPartition(topic, partition, offset))

    def _back_off(self, exc: Exception) -> None:
        self._consecutive_errors += 1
        connections.close_all()
        self._parked.close()
        if self._consecutive_errors >= settings.EVENTS_MAX_CONSECUTIVE_ERRORS:
            raise TooManyErrors(f"{self._consecutive_errors} failures in a row; last: {exc}") from exc
        delay = min(2 ** (self._consecutive_errors - 1), 30)
        logger.warning("database unavailable (%s); trying again in %ss", exc, delay)
        self.stop.wait(delay)

    def _send_to_dead_letter_topic(self, message: Message) -> None:
        if self._producer is None:
            self._producer = Producer(kafka.client_config(**{"enable.idempotence": True, "acks": "all"}))
        self._producer.produce(
            dead_letter_topic(settings.SERVICE_NAME),
            key=message.key,
            value=message.value,
            headers={
                "consumer": self.consumer.name,
                "original_topic": message.topic,
                "original_partition": str(message.partition),
                "original_offset": str(message.offset),
            },
        )
        self._producer.flush(10)

    def _record_lag(self, messages: list[Message]) -> None:
        last: dict[tuple[str, int], int] = {}
        for m in messages:
            last[(m.topic, m.partition)] = m.offset
        for (topic, partition), offset in last.items():
            _, high = self._kafka.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            if high not in (None, OFFSET_INVALID):
                metrics.CONSUMER_LAG.labels(self.consumer.name, topic, str(partition)).set(
                    max(high - offset - 1, 0)
                )

    def _on_assign(self, kafka_consumer, partitions) -> None:
        """Commit where the group starts on each assigned partition it never committed (its low
        watermark: auto.offset.reset is earliest), so that the group's committed offsets name every
        partition it reads. The pipeline watchers read a group's backlog from those offsets alone
        (events/pipeline.py): without this, the first events on a partition the group had not yet
        read were no backlog at all while its workers were down (CI: a stopped inventory not seen
        as stalled on a fresh stack). librdkafka assigns the partitions once this returns."""
        try:
            committed = kafka_consumer.committed(partitions, timeout=ASSIGN_TIMEOUT_SECONDS)
            starts = [
                TopicPartition(
                    p.topic,
                    p.partition,
                    kafka_consumer.get_watermark_offsets(p, timeout=ASSIGN_TIMEOUT_SECONDS)[0],
                )
                for p in committed
                if p.offset < 0
            ]
            if starts:
                kafka_consumer.commit(offsets=starts, asynchronous=False)
        except KafkaException as exc:
            # Only the watchers' view is at stake; the next assignment tries again.
            logger.warning("starting offsets of %s partitions not committed: %s", len(partitions), exc)
        logger.info("partitions assigned: %s", [f"{p.topic}/{p.partition}" for p in partitions])

    def _on_revoke(self, kafka_consumer, partitions) -> None:
        # Batches are applied and their offsets stored before the next poll, so nothing is in flight
        # here; librdkafka commits the stored offsets of these partitions as they are revoked.
        logger.info("partitions revoked: %s", [f"{p.topic}/{p.partition}" for p in partitions])
        for p in partitions:
            metrics.CONSUMER_LAG.labels(self.consumer.name, p.topic, str(p.partition)).set(0)
