"""The envelope every event travels in, and its wire format (JSON, one message per event).

The Kafka message key is the aggregate id, so one aggregate's events (one order's, for
everything in the saga) stay in order within a partition.
"""

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from events import bounded_json
from events.ids import new_id


class EnvelopeEncoder(DjangoJSONEncoder):
    """Django's encoder (decimals, UUIDs ...), but times keep their microseconds."""

    def default(self, o):
        if isinstance(o, datetime):
            return o.isoformat()
        return super().default(o)


class EnvelopeError(ValueError):
    """The bytes are not an event envelope this system can read."""


# What the inbox, outbox and dead-letter columns hold (events/models.py): an envelope whose ids are
# longer, whose sequence is past PostgreSQL's bigint, or that holds a NUL character (which no
# PostgreSQL text or jsonb can) is unreadable here, rather than an error in those tables' inserts.
MAX_TEXT = 100
MAX_INTEGER = 2**63 - 1
# What a message may be before it is parsed: the broker's default message.max.bytes, and a depth
# well past any event's (an order's lines are four levels down) and far short of Python's
# recursion limit, which a deeper document would reach in the parser or in any walk after it.
MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32


@dataclass(frozen=True)
class Envelope:
    event_type: str
    version: int
    aggregate_type: str
    aggregate_id: str
    # The aggregate's version after the change this event records: 1, 2, 3 ... per aggregate.
    sequence: int
    payload: dict[str, Any]
    producer: str
    # The order id or request id that started the chain of events.
    correlation_id: str
    # The event that caused this one, if any.
    causation_id: str | None = None
    event_id: str = field(default_factory=lambda: str(new_id()))
    occurred_at: datetime = field(default_factory=timezone.now)

    @property
    def key(self) -> bytes:
        return self.aggregate_id.encode()

    def to_dict(self) -> dict[str, Any]:
        # The fields in their declared order, as dataclasses.asdict() gives them, without its deep copy.
        return {
            "event_type": self.event_type,
            "version": self.version,
            "aggregate_type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "sequence": self.sequence,
            "payload": self.payload,
            "producer": self.producer,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), cls=EnvelopeEncoder, separators=(",", ":")).encode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Envelope":
        try:
            occurred_at = parse_datetime(data["occurred_at"])
            if occurred_at is None:
                raise EnvelopeError(f"occurred_at is not a datetime: {data['occurred_at']!r}")
            envelope = cls(
                event_id=str(uuid.UUID(str(data["event_id"]))),
                event_type=_text(data, "event_type"),
                version=_positive_int(data, "version"),
                aggregate_type=_text(data, "aggregate_type"),
                aggregate_id=_text(data, "aggregate_id"),
                sequence=_positive_int(data, "sequence"),
                occurred_at=occurred_at,
                correlation_id=_text(data, "correlation_id"),
                causation_id=_optional_text(data, "causation_id"),
                producer=_text(data, "producer"),
                payload=data["payload"],
            )
        except KeyError as exc:
            raise EnvelopeError(f"missing field {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:
            raise EnvelopeError(str(exc)) from exc
        if not isinstance(envelope.payload, dict):
            raise EnvelopeError("payload is not an object")
        return envelope

    @classmethod
    def from_json(cls, raw: bytes | str | None) -> "Envelope":
        if raw is None:
            raise EnvelopeError("empty message")
        try:
            data = bounded_json.loads(raw, max_bytes=MAX_BYTES, max_depth=MAX_DEPTH)
        except (bounded_json.TooLarge, bounded_json.TooDeep) as exc:
            raise EnvelopeError(f"too big to read: {exc}") from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EnvelopeError(f"not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise EnvelopeError("not a JSON object")
        # JSON can carry a NUL only as the escape \u0000: one bytes search, and a walk only then.
        if (b"\\u0000" if isinstance(raw, bytes) else "\\u0000") in raw and bounded_json.holds_nul(data):
            raise EnvelopeError("it holds a NUL character (\\u0000), which PostgreSQL cannot store")
        return cls.from_dict(data)


def _text(data: dict, name: str) -> str:
    value = data[name]
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT or "\x00" in value:
        raise EnvelopeError(
            f"{name} must be a non-empty string of at most {MAX_TEXT} characters, without NUL,"
            f" not {_shown(value)}"
        )
    return value


def _optional_text(data: dict, name: str) -> str | None:
    return None if data.get(name) is None else _text(data, name)


def _positive_int(data: dict, name: str) -> int:
    value = data[name]
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_INTEGER:
        raise EnvelopeError(f"{name} must be an integer from 1 to {MAX_INTEGER}, not {_shown(value)}")
    return value


def _shown(value) -> str:
    """A value for an error message, short (repr writes a NUL as \\x00: the message is stored)."""
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:120]}... ({len(text)} characters)"
