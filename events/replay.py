"""Re-delivering events from Kafka to a consumer, by offset range or time range.

The replay reads with a throw-away consumer group (it never moves the live consumer's offsets)
and applies each message exactly as the live consumer would (events/processing.py), so the
inbox makes a replay of events already applied change nothing. With dry_run it only reports
what each message would do.
"""

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import KafkaError, TopicPartition

from events import kafka
from events.consumers import Consumer
from events.envelope import Envelope, EnvelopeError
from events.models import InboxEvent
from events.processing import Message, process


@dataclass
class ReplayResult:
    messages: int = 0
    outcomes: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class PartitionRange:
    partition: int
    start: int  # first offset to deliver
    end: int  # one past the last offset to deliver


def replay(
    consumer: Consumer,
    *,
    topic: str,
    partitions: list[int] | None = None,
    from_offset: int | None = None,
    to_offset: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    dry_run: bool = False,
    on_message: Callable[[Message, str], None] | None = None,
) -> ReplayResult:
    """Deliver `topic`'s messages in the given range to `consumer`; `to_offset` is inclusive."""
    reader = KafkaConsumer(
        kafka.client_config(
            **{
                "group.id": f"{consumer.name}.replay.{uuid.uuid4()}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
    )
    result = ReplayResult()
    try:
        ranges = _ranges(reader, topic, partitions, from_offset, to_offset, since, until)
        pending = {r.partition: r for r in ranges if r.start < r.end}
        if not pending:
            return result
        reader.assign([TopicPartition(topic, r.partition, r.start) for r in pending.values()])
        while pending:
            for raw in reader.consume(500, timeout=5.0):
                if raw.error():
                    if raw.error().code() == KafkaError._PARTITION_EOF:
                        pending.pop(raw.partition(), None)
                        continue
                    raise RuntimeError(f"Kafka error during replay: {raw.error()}")
                current = pending.get(raw.partition())
                if current is None:
                    continue
                if raw.offset() >= current.end:
                    pending.pop(raw.partition())
                    continue
                message = Message.from_kafka(raw)
                outcome = _dry_run(consumer, message) if dry_run else str(process(consumer, message))
                result.messages += 1
                result.outcomes[outcome] += 1
                if on_message:
                    on_message(message, outcome)
                if raw.offset() + 1 >= current.end:
                    pending.pop(raw.partition())
    finally:
        reader.close()
    return result


def _ranges(reader, topic, partitions, from_offset, to_offset, since, until) -> list[PartitionRange]:
    metadata = reader.list_topics(topic, timeout=10)
    if topic not in metadata.topics or metadata.topics[topic].error is not None:
        raise LookupError(f"no topic {topic!r} on the broker")
    known = sorted(metadata.topics[topic].partitions)
    chosen = partitions if partitions is not None else known
    unknown = set(chosen) - set(known)
    if unknown:
        raise LookupError(f"topic {topic!r} has no partition {sorted(unknown)} (it has {known})")
    ranges = []
    for partition in chosen:
        low, high = reader.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        start = max(low, from_offset) if from_offset is not None else low
        end = min(high, to_offset + 1) if to_offset is not None else high
        if since is not None:
            start = max(start, _offset_at(reader, topic, partition, since, high))
        if until is not None:
            end = min(end, _offset_at(reader, topic, partition, until, high))
        ranges.append(PartitionRange(partition, start, end))
    return ranges


def _offset_at(reader, topic: str, partition: int, moment: datetime, high: int) -> int:
    """The first offset whose timestamp is at or after `moment` (the end if none is)."""
    found = reader.offsets_for_times(
        [TopicPartition(topic, partition, int(moment.timestamp() * 1000))], timeout=10
    )
    return found[0].offset if found[0].offset >= 0 else high


def _dry_run(consumer: Consumer, message: Message) -> str:
    try:
        envelope = Envelope.from_json(message.value)
    except EnvelopeError:
        return "would dead-letter (unreadable)"
    if envelope.event_type not in consumer.handlers:
        return "no handler"
    if not consumer.inbox:
        return "would apply (changes nothing if already applied)"
    if InboxEvent.objects.filter(consumer=consumer.name, event_id=envelope.event_id).exists():
        return "already applied"
    return "would apply"
