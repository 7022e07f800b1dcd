"""The outbox relay that `manage.py relay_outbox` runs: committed outbox rows to Kafka.

- It wakes on PostgreSQL NOTIFY (a trigger on the outbox table fires one per inserting
  transaction), waits EVENTS_RELAY_BATCH_WINDOW_MS more for what else is committing (the
  batching window: fewer, fuller batches under load), and polls as a fallback.
- It finds each aggregate's first unpublished row, then claims and marks them with one
  statement (UPDATE ... SET published_at ... RETURNING, over SELECT ... FOR UPDATE SKIP LOCKED),
  so several relays can run at once, and an aggregate's row is taken only when no earlier row of
  that aggregate is still unpublished: one aggregate's events reach Kafka in order even with
  several relays and after failures.
- It publishes each row's stored body as the message's value, unchanged (no parsing), with an
  idempotent producer (acks=all), and commits the batch's transaction only once the broker
  confirmed every message: a row the broker did not confirm is put back (unpublished, its
  attempt counted) in the same transaction; a relay killed before its commit leaves the whole
  batch unpublished, to be sent again (consumers' inboxes absorb the repeat). With Kafka down,
  rows stay unpublished; it backs off and tries again, with a new producer after any batch of
  which the broker confirmed nothing.
"""

import contextlib
import logging
import select
import threading
import time
from dataclasses import dataclass, field

import psycopg2
from confluent_kafka import Producer
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction

from events import kafka, metrics
from events.prepared import Statement

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "events_outbox"

# A row is claimable when it is its aggregate's first unpublished one: FIRST_WAITING finds them
# (one pass over the (aggregate_id, id) index of waiting rows), CLAIM locks and marks them by
# primary key. One statement asking "does no earlier waiting row of its aggregate exist" for each
# waiting row was planned, the statistics expecting an empty queue, as a nested loop over the
# whole queue per row: 173 ms a claim with 3,000 rows waiting instead of 10, and quadratic in a
# backlog. The published_at test in CLAIM is written so that no partial index of waiting rows
# matches it (the same misjudgement again), and is checked again on the locked row's newest
# version, so a row another relay published meanwhile is left alone.
FIRST_WAITING = Statement(
    "events_relay_first_waiting",
    """
    SELECT id FROM (
        SELECT DISTINCT ON (aggregate_id) id FROM events_outboxevent
        WHERE published_at IS NULL
        ORDER BY aggregate_id, id
    ) AS firsts
    ORDER BY id
    LIMIT %s::integer
""",
)

CLAIM = Statement(
    "events_relay_claim",
    """
    UPDATE events_outboxevent AS o SET published_at = now()
    FROM (
        SELECT id FROM events_outboxevent
        WHERE id = ANY(%s::bigint[]) AND (published_at IS NULL) IS TRUE
        ORDER BY id
        FOR UPDATE SKIP LOCKED
    ) AS claimed
    WHERE o.id = claimed.id
    RETURNING o.id, o.topic, o.aggregate_id, o.body, o.event_id::text, o.event_type, o.event_version,
              o.correlation_id
""",
)

PUT_BACK = """
    UPDATE events_outboxevent AS o
    SET published_at = NULL, attempts = o.attempts + 1, last_error = failed.error
    FROM unnest(%s::bigint[], %s::text[]) AS failed(id, error)
    WHERE o.id = failed.id
"""


@dataclass
class BatchResult:
    claimed: int = 0
    published: int = 0
    errors: dict[int, str] = field(default_factory=dict)
    # The producer hit a fatal error (e.g. its idempotence state is lost) and must be replaced.
    producer_failed: bool = False


def producer_create() -> Producer:
    return Producer(
        kafka.client_config(
            **{
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "compression.type": "lz4",
                # A message the broker has not confirmed by then is reported failed; its row is retried.
                "message.timeout.ms": settings.EVENTS_RELAY_MESSAGE_TIMEOUT_MS,
            }
        )
    )


def relay_batch(producer: Producer, *, batch_size: int) -> BatchResult:
    """Publish one batch of claimable rows; return what happened to them."""
    result = BatchResult()
    with transaction.atomic():
        with connection.cursor() as cursor:
            FIRST_WAITING.execute(cursor, [batch_size])
            firsts = [row[0] for row in cursor.fetchall()]
            if firsts:
                CLAIM.execute(cursor, [firsts])
            rows = sorted(cursor.fetchall()) if firsts else []  # in commit order: RETURNING keeps none
        result.claimed = len(rows)
        if not rows:
            return result
        delivered: list[str] = []

        def on_delivery(row_id, err, msg):
            if err is None:
                delivered.append(msg.topic())
            else:
                result.errors[row_id] = str(err)
                result.producer_failed |= err.fatal()

        for row_id, topic, aggregate_id, body, event_id, event_type, version, correlation_id in rows:
            producer.produce(
                topic,
                key=aggregate_id,
                value=body,
                headers={
                    "event_id": event_id,
                    "event_type": event_type,
                    "version": str(version),
                    "correlation_id": correlation_id,
                },
                on_delivery=lambda err, msg, row_id=row_id: on_delivery(row_id, err, msg),
            )
        # Every message ends delivered or failed within message.timeout.ms.
        while len(producer):
            producer.flush(1.0)
        if result.errors:
            with connection.cursor() as cursor:
                cursor.execute(PUT_BACK, [list(result.errors), list(result.errors.values())])
            metrics.OUTBOX_PUBLISH_ERRORS.inc(len(result.errors))
        for topic in set(delivered):
            metrics.OUTBOX_PUBLISHED.labels(topic).inc(delivered.count(topic))
        result.published = len(delivered)
    return result


class Relay:
    def __init__(
        self, *, batch_size: int = 500, poll_interval: float = 1.0, stop: threading.Event | None = None
    ):
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.stop = stop or threading.Event()
        self._listener = None
        self._failures = 0
        # Set while the relay waits for a NOTIFY or its next poll (it has nothing claimable).
        self.waiting = threading.Event()

    def run(self) -> None:
        producer = producer_create()
        logger.info("outbox relay started")
        try:
            while not self.stop.is_set():
                try:
                    result = self._step(producer)
                except (OperationalError, InterfaceError, psycopg2.Error) as exc:
                    self._close()
                    self._fail(f"database unavailable: {exc}")
                    continue
                if result.producer_failed or (result.errors and not result.published):
                    # A fatal error, or a batch of which the broker confirmed nothing: a new
                    # producer. After a Kafka restart librdkafka's producer has kept a stale
                    # broker in its metadata ("new leader not found in cache") and timed out
                    # every message for an hour while new clients published (librdkafka #3009,
                    # #4976; make chaos, 2026-12-07). Its queue is empty (relay_batch flushed
                    # it), so nothing in flight is dropped, and with Kafka really down, a new
                    # one per back-off step costs nothing.
                    producer = producer_create()
                if result.errors:
                    self._fail(
                        f"{len(result.errors)} of {result.claimed} not confirmed by Kafka, e.g. "
                        f"{next(iter(result.errors.values()))}"
                    )
                    continue
                self._failures = 0
                if result.claimed < self.batch_size and self._wait_for_notify():
                    # The batching window: what other transactions commit meanwhile joins the batch.
                    self.stop.wait(settings.EVENTS_RELAY_BATCH_WINDOW_MS / 1000)
        finally:
            producer.flush(10)
            self._close()
            logger.info("outbox relay stopped")

    def _step(self, producer: Producer) -> BatchResult:
        self._listen()
        result = relay_batch(producer, batch_size=self.batch_size)
        logger.debug("published %s outbox events", result.published)
        return result

    def _fail(self, reason: str) -> None:
        self._failures += 1
        delay = min(2 ** (self._failures - 1), settings.EVENTS_RELAY_MAX_BACKOFF_SECONDS)
        logger.warning("%s; trying again in %ss", reason, delay)
        self.stop.wait(delay)

    def _listen(self) -> None:
        if self._listener is None:
            self._listener = psycopg2.connect(**connection.get_connection_params())
            self._listener.autocommit = True
            with self._listener.cursor() as cursor:
                cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def _wait_for_notify(self) -> bool:
        """Wait for a NOTIFY or the next poll; whether a NOTIFY came."""
        self.waiting.set()
        deadline = time.monotonic() + self.poll_interval
        try:
            # In slices of at most a second, so a stop request is seen promptly.
            while not self.stop.is_set() and (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([self._listener], [], [], min(left, 1.0))
                if ready:
                    self._listener.poll()
                    self._listener.notifies.clear()
                    return True
            return False
        finally:
            self.waiting.clear()

    def _close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(psycopg2.Error):
                self._listener.close()
            self._listener = None
        connection.close()
