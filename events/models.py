"""The tables of the events app, in every service's own database.

OutboxEvent: events written in the same transaction as the change they record, published to
Kafka afterwards by the relay, byte for byte as stored. InboxEvent: the events a consumer has
applied, written in the same transaction as the handler's effects. DeadLetter: events a
consumer could not apply, and the events of the same aggregate parked behind them.
"""

import json

from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q


class OutboxEvent(models.Model):
    event_id = models.UUIDField(unique=True)
    topic = models.CharField(max_length=200)
    event_type = models.CharField(max_length=100)
    # The version of the event type's schema its payload is written in (the `version` header).
    event_version = models.PositiveSmallIntegerField(default=1)
    aggregate_type = models.CharField(max_length=100)
    aggregate_id = models.CharField(max_length=100)
    sequence = models.PositiveBigIntegerField()
    correlation_id = models.CharField(max_length=100)
    # The whole envelope as JSON: the message's value, published as it is, never parsed again.
    body = models.TextField()
    # Indexed by BRIN (outbox_created below): rows are written in time order, and a BRIN index
    # costs next to nothing per insert where a btree costs an entry (and every publish another).
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            # The relay's queue: unpublished rows in commit order, and per aggregate.
            models.Index(fields=["id"], condition=Q(published_at=None), name="events_outbox_pending"),
            models.Index(
                fields=["aggregate_id", "id"],
                condition=Q(published_at=None),
                name="events_outbox_pending_agg",
            ),
            models.Index(fields=["aggregate_id", "sequence"], name="events_outbox_aggregate"),
            BrinIndex(fields=["created_at"], name="events_outbox_created"),
        ]

    def __str__(self):
        return f"{self.event_type} {self.aggregate_type} {self.aggregate_id} #{self.sequence}"

    @property
    def envelope(self) -> dict:
        """The envelope, parsed (for people and tests; the relay sends `body` as it is)."""
        return json.loads(self.body)


class InboxEvent(models.Model):
    consumer = models.CharField(max_length=100)
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=100)
    aggregate_id = models.CharField(max_length=100)
    sequence = models.PositiveBigIntegerField()
    topic = models.CharField(max_length=200)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    # BRIN, for pruning by age: a btree entry per applied event was a tenth of an order's index writes.
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["consumer", "event_id"], name="events_inbox_once")]
        indexes = [BrinIndex(fields=["processed_at"], name="events_inbox_processed")]

    def __str__(self):
        return f"{self.consumer}: {self.event_type} {self.event_id}"


class DeadLetter(models.Model):
    class Status(models.TextChoices):
        # Failed, waiting for someone to retry or discard it.
        DEAD = "dead", "dead"
        # Not tried: an earlier event of the same aggregate is dead, and this one waits behind it.
        PARKED = "parked", "parked"
        # A version of its event type newer than this service knows (its producer was upgraded
        # first): applied on its own when the consumer starts with code that reads it.
        WAITING = "waiting", "waiting for an upgrade"
        # Applied after all, by a retry.
        RETRIED = "retried", "retried"
        DISCARDED = "discarded", "discarded"

    consumer = models.CharField(max_length=100)
    event_id = models.CharField(max_length=100, blank=True)
    event_type = models.CharField(max_length=100, blank=True)
    aggregate_id = models.CharField(max_length=100, blank=True)
    sequence = models.PositiveBigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.DEAD)
    error = models.TextField()
    attempts = models.PositiveIntegerField(default=0)
    # Where the message was read, and the message itself, so it can be retried.
    topic = models.CharField(max_length=200)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    key = models.BinaryField(null=True, blank=True)
    value = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["consumer", "topic", "partition", "offset"], name="events_deadletter_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["consumer", "aggregate_id", "offset"],
                condition=Q(status__in=["dead", "parked", "waiting"]),
                name="events_deadletter_blocking",
            )
        ]

    def __str__(self):
        what = self.event_type or "unreadable message"
        return f"{self.consumer}: {what} at {self.topic}/{self.partition}@{self.offset}"

    @property
    def is_open(self) -> bool:
        return self.status in BLOCKING


# The letters that hold back their aggregate's later events.
BLOCKING = (DeadLetter.Status.DEAD, DeadLetter.Status.PARKED, DeadLetter.Status.WAITING)


class PipelineStage(models.Model):
    """How far behind one stage of the pipeline is, as `manage.py watch_pipeline` last measured it:
    a consumer group (`consumer:<name>`, read from Kafka) or this service's outbox (`outbox`)."""

    name = models.CharField(max_length=120, primary_key=True)
    # The age of the oldest event not yet applied (published, for the outbox); 0 when none waits.
    delay_seconds = models.FloatField(default=0)
    # Events waiting: messages behind the high watermarks, or unpublished outbox rows.
    backlog = models.BigIntegerField(default=0)
    # Where the stage is: a group's committed offsets summed, the outbox's rows published.
    # It made progress when this moved.
    position = models.BigIntegerField(default=0)
    # Events the stage applied (published) a second lately, smoothed over a few measurements;
    # what its backlog is worked off at (pipeline.Delay.wait_seconds).
    drain_per_second = models.FloatField(default=0, db_default=0)
    # Whether the backlog grew since the measurement before: events come faster than the stage
    # works them, and an event arriving now waits longer than its oldest one has so far.
    backlog_grew = models.BooleanField(default=False, db_default=False)
    # When the stage last had nothing waiting or moved forward.
    progressed_at = models.DateTimeField()
    measured_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name}: {self.delay_seconds:.1f} s behind"
