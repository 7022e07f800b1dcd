"""The aggregates a consumer parks instead of applying: those with an open dead letter (dead, or
parked behind one), kept in the consumer's memory instead of looked up before every batch.

The set is loaded when the consumer starts and again whenever the dead letters changed. Every
write to them (this consumer's, another worker's of the same group, the admin's retry or discard,
a replay's) fires NOTIFY events_deadletter on commit (a trigger, events/migrations/0004); before
each batch the consumer drains the notifications its listening connection already received,
which sends nothing to the database. A release seen late is harmless: parking looks at the
database again under the aggregate's lock (processing._park) and applies the message when its
dead letter is gone. A dead letter written by another process reaches this one within that
process's commit and the notification's delivery; until then an event of its aggregate read from
another partition is applied, as it would have been had it arrived a moment earlier (events of
different partitions are not ordered with each other in any case).
"""

import contextlib
import logging

import psycopg2
from django.db import connection

from events.consumers import Consumer
from events.processing import InfrastructureError, blocked_aggregates

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "events_deadletter"


class ParkedAggregates:
    def __init__(self, consumer: Consumer):
        self.consumer = consumer
        self._listener = None
        self._aggregates: set[str] | None = None

    def current(self) -> set[str]:
        """The aggregates with an open dead letter, as of the notifications received so far.

        The caller may add to the set (what its batch dead-letters); invalidate() when a batch
        that did was rolled back."""
        try:
            if self._listener is None:
                self._listen()  # listen first, then load: a change committed between is seen twice
                self._aggregates = None
            elif self._changed():
                self._aggregates = None
        except psycopg2.Error as exc:
            self.close()
            raise InfrastructureError(f"listening for dead-letter changes: {exc}") from exc
        if self._aggregates is None:
            self._aggregates = blocked_aggregates(self.consumer)
        return self._aggregates

    def invalidate(self) -> None:
        """Load the set again before the next batch."""
        self._aggregates = None

    def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(psycopg2.Error):
                self._listener.close()
            self._listener = None

    def _listen(self) -> None:
        self._listener = psycopg2.connect(**connection.get_connection_params())
        self._listener.autocommit = True
        with self._listener.cursor() as cursor:
            cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def _changed(self) -> bool:
        self._listener.poll()  # reads what the socket already holds; sends nothing
        if not self._listener.notifies:
            return False
        self._listener.notifies.clear()
        return True
