"""The consumer's calls to the card gateway: in flight while it reads on, never inline.

The payments consumer commits each batch's intents (payments/services.py, step 1) and hands them
here; the batch is done, its offsets are stored, and the loop polls again. The dispatcher keeps
up to PAYMENTS_GATEWAY_CONCURRENCY calls in flight, each with its order's idempotency key, and
records their answers in small batches, one transaction each (payments_record). So the
provider's latency delays each order by that latency and no more: at most the concurrency's
worth of calls a latency (Little's law: 128 calls at 300 ms are 427 charges a second), not one
batch's worth.

Backpressure: while more than PAYMENTS_DISPATCH_MAX_PENDING intents are waiting or in flight,
full() says so and the consumer's loop pauses its partitions (events/consuming.py) until they
drain; nothing waits in memory beyond that bound and a batch.

Nothing is lost: an intent is in the database before it is handed over. A process killed with
calls in flight, or an answer that could not be recorded (the database restarting), leaves the
intent as it was, and the periodic payments_settle_stalled sends it again with the same key,
which the gateway answers with what it did the first time.

A gateway that stopped answering is not asked for every intent: after as many calls in a row
without an answer as go out at once, one call at a time probes it and the intents behind are not
sent (recorded as attempted, left for the periodic retry), so the consumer is not held for them.
"""

import logging
import queue
import threading
import time

from django.conf import settings
from django.db import connections

from payments import metrics
from payments.services import Answer, Intent, intent_send, payments_record

logger = logging.getLogger(__name__)

# How many answers one recording transaction takes at most, and how long it waits for more
# once it has one: a few ms of latency buys one transaction for many answers.
RECORD_BATCH = 200
RECORD_WAIT_SECONDS = 0.005


class ChargeDispatcher:
    def __init__(self, *, concurrency: int, max_pending: int):
        self.concurrency = concurrency
        self.max_pending = max_pending
        self._waiting: queue.SimpleQueue[Intent | None] = queue.SimpleQueue()
        self._answered: queue.SimpleQueue[tuple[Intent, Answer] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # (order_id, status) of each intent handed over and not yet recorded: an intent handed
        # over twice (two rounds of one batch) is sent once.
        self._pending: set[tuple[str, str]] = set()
        self._unanswered = 0  # calls in a row without an answer
        self._one_at_a_time = threading.Lock()
        self._callers: list[threading.Thread] = []
        self._recorder: threading.Thread | None = None
        self._closed = False

    def submit(self, intents: list[Intent]) -> None:
        """Hand over committed intents (called once their transaction has committed)."""
        with self._lock:
            if self._closed:
                return  # stopping: they stay in the database for the periodic retry
            self._start()
            for intent in intents:
                key = (intent.order_id, intent.status)
                if key not in self._pending:
                    self._pending.add(key)
                    self._waiting.put(intent)
            metrics.DISPATCH_PENDING.set(len(self._pending))

    def full(self) -> bool:
        """Whether the consumer should stop taking messages until calls have drained."""
        return len(self._pending) >= self.max_pending

    def pending(self) -> int:
        return len(self._pending)

    def close(self, timeout: float) -> None:
        """Stop taking intents, let the calls in flight finish and their answers be recorded,
        within `timeout` seconds; intents not sent by then stay for the periodic retry."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._drop_waiting()
        for _ in self._callers:
            self._waiting.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._callers:
            thread.join(max(deadline - time.monotonic(), 0))
        if self._recorder is not None:
            self._answered.put(None)
            self._recorder.join(max(deadline - time.monotonic(), 0))
        _forget(self)

    def _start(self) -> None:
        if self._recorder is not None:
            return
        self._callers = [
            threading.Thread(target=self._call, name=f"gateway-call-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        self._recorder = threading.Thread(target=self._record, name="gateway-record", daemon=True)
        for thread in (*self._callers, self._recorder):
            thread.start()

    def _drop_waiting(self) -> None:
        while True:
            try:
                intent = self._waiting.get_nowait()
            except queue.Empty:
                return
            if intent is not None:
                self._done([intent])

    def _call(self) -> None:
        while (intent := self._waiting.get()) is not None:
            try:
                metrics.GATEWAY_IN_FLIGHT.inc()
                answer = self._send(intent)
            except Exception as exc:  # noqa: BLE001 - a bug must not take a call thread with it
                logger.exception("sending the intent of order %s failed", intent.order_id)
                answer = Answer(unknown=f"{type(exc).__name__}: {exc}")
            finally:
                metrics.GATEWAY_IN_FLIGHT.dec()
            self._answered.put((intent, answer))

    def _send(self, intent: Intent) -> Answer:
        if self._closed:
            return Answer(unknown="not sent: the consumer is stopping")
        if self._unanswered < self.concurrency:
            answer = intent_send(intent)
        elif self._one_at_a_time.acquire(blocking=False):
            try:  # the gateway stopped answering: this call probes it, alone
                answer = intent_send(intent)
            finally:
                self._one_at_a_time.release()
        else:
            return Answer(unknown="not sent: the gateway had stopped answering")
        with self._lock:
            self._unanswered = self._unanswered + 1 if answer.unknown else 0
        return answer

    def _record(self) -> None:
        try:
            while (first := self._answered.get()) is not None:
                batch = [first]
                stopping = self._take_more(batch)
                try:
                    self._record_batch(batch)
                except Exception:  # noqa: BLE001 - the recorder must outlive any one batch
                    logger.exception("recording %s answers failed", len(batch))
                if stopping:
                    break
        finally:
            connections.close_all()  # this thread's own database connection

    def _take_more(self, batch: list) -> bool:
        """Add the answers that arrive within RECORD_WAIT_SECONDS of the first, up to
        RECORD_BATCH; whether close() was asked."""
        deadline = time.monotonic() + RECORD_WAIT_SECONDS
        while len(batch) < RECORD_BATCH:
            try:
                more = self._answered.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                return False
            if more is None:
                return True
            batch.append(more)
        return False

    def _record_batch(self, batch: list[tuple[Intent, Answer]]) -> None:
        follow_ups = []
        try:
            # A connection the database dropped (a restart) is replaced before, not after, a batch.
            connections["default"].close_if_unusable_or_obsolete()
            follow_ups = payments_record(batch)
        except Exception:  # noqa: BLE001 - the intents stay; the periodic retry completes them
            logger.exception("answers of %s intents not recorded; left for the periodic retry", len(batch))
            connections["default"].close()
        finally:
            self._done([intent for intent, _ in batch])
        if follow_ups:
            self.submit(follow_ups)

    def _done(self, intents: list[Intent]) -> None:
        with self._lock:
            for intent in intents:
                self._pending.discard((intent.order_id, intent.status))
            metrics.DISPATCH_PENDING.set(len(self._pending))


_dispatcher: ChargeDispatcher | None = None
_dispatcher_lock = threading.Lock()


def dispatcher() -> ChargeDispatcher:
    """The process's dispatcher, made on first use with the settings then in force (by the
    consumer's loop as it starts: events/consumers.py's `handoff`)."""
    global _dispatcher
    with _dispatcher_lock:
        if _dispatcher is None:
            _dispatcher = ChargeDispatcher(
                concurrency=settings.PAYMENTS_GATEWAY_CONCURRENCY,
                max_pending=settings.PAYMENTS_DISPATCH_MAX_PENDING,
            )
        return _dispatcher


def current() -> ChargeDispatcher | None:
    """The process's dispatcher if its consumer loop runs one, else None."""
    return _dispatcher


def _forget(closed: ChargeDispatcher) -> None:
    global _dispatcher
    with _dispatcher_lock:
        if _dispatcher is closed:
            _dispatcher = None
