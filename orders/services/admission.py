"""Admission control at placement: refuse new orders quickly, before writing anything, when
taking them would harm the orders already taken. Two limits, each in every web process:

1. Orders in the saga at once. A new order is refused while as many orders placed within the
   last ORDERS_ADMISSION_HORIZON_SECONDS are pending (their saga not yet done) as the door's
   limit; the limit adapts so that the orders finishing the saga now took about
   ORDERS_ADMISSION_TARGET_SECONDS (their median, placement to outcome). By Little's law the
   pending orders are the saga's rate times its latency: under an overload the saga works at its
   capacity, the pending count stops at the limit, and the latency is the limit over the
   capacity. So the limit is a concurrency limit on the pipeline (the Vegas and Gradient family
   of Netflix's concurrency-limits, whose signal is the latency of the calls that just returned):
   at each refresh it is multiplied by target / completion while the completion is over the
   target (at most halved), and by the same ratio while it is under it and the limit is what
   binds (pending at half of it or more; at most +25 %), smoothed (a tenth of the step). While it
   does not bind and the saga keeps up with what comes, the limit is back at
   ORDERS_ADMISSION_INITIAL_LIMIT at least, so the next burst is not turned away. No dead band,
   and a fresh signal: one query of the orders table at each refresh
   (ORDERS_ADMISSION_REFRESH_SECONDS), the outcomes of the last ORDERS_ADMISSION_WINDOW_SECONDS,
   not a measurement of the consumer groups seconds old. Between refreshes the door counts the
   orders it admitted itself.
   An order whose saga takes longer than the horizon waits for the card provider (a charge timed
   out, retried seconds later): pending, but taking none of the pipeline's capacity. So it counts
   neither in the queue nor in the latency (the median is of the outcomes within the horizon;
   when none is, the oldest pending order's age within it stands for the latency). Counted,
   with the provider failing or slow for 30 % of the charges, those orders were most of the
   pending ones: read by their age, the limit fell and refused 43 % of the orders the saga had
   room for (make chaos, 2026-12-07); read by all outcomes, the drained pipeline finished only
   those and the limit collapsed in a 36 s cycle (the synthetic saga of the tests).
   Placing orders keeps working while another service or the broker is down: a saga in which
   nothing finished in the last window while orders are pending is stopped, not overloaded (an
   overloaded saga still finishes orders at its capacity), and so is one with a stage of its path
   in an outage as the pipeline watcher measured it (events/pipeline.py); either lifts the limit,
   the latter until the stage has moved for ORDERS_ADMISSION_GRACE_SECONDS again. Those orders
   wait in the outbox and the queues, and the saga's timeouts catch a participant that never
   answers.
2. Placements at once. No more than ORDERS_ADMISSION_MAX_IN_FLIGHT orders are being placed in a
   process at a time. One more waits for a slot, at most ORDERS_ADMISSION_QUEUE_SECONDS (5 ms
   once the queue for slots has not emptied for twice that, or while the saga's limit binds:
   controlled delay) and behind at most
   ORDERS_ADMISSION_MAX_QUEUED others (a burst of customers on an idle stack goes through), else
   it is refused (Retry-After 1). The web process has more threads than that
   (ORDERS_WEB_THREADS), so requests beyond it reach the door instead of queueing unseen for a
   thread. This keeps placement fast under a sudden overload, before the next refresh.

It runs ahead of Django (orders/wsgi.py): a refusal costs no request set-up, no authentication,
no body parsing, no query and no log line.
"""

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from events import pipeline
from orders import metrics, selectors
from orders.services import saga

# The limit's step at each refresh: the ratio target / completion, bounded, and a tenth of it taken
# (a fifth cycled by 12 % in the synthetic saga of the tests, its signal as late as its latency).
LIMIT_DECREASE_MIN, LIMIT_INCREASE_MAX, LIMIT_SMOOTHING = 0.5, 1.25, 0.1
# The limit grows only while it is what holds orders back: pending at this share of it or more.
LIMIT_BINDING = 0.5
# How long a placement waits for a slot while the queue for slots has not emptied for a while.
STANDING_QUEUE_WAIT_SECONDS = 0.005
# A queue for slots that has not emptied for this many times ORDERS_ADMISSION_QUEUE_SECONDS is
# standing. Not once: a burst of 30 customers placing two orders each comes in two waves, and the
# second found the queue the first left (docs/benchmarks.md, the burst on the AMD box).
STANDING_QUEUE_PATIENCES = 2
# A reading older than this is not judged by while a fresh one is being read: wait for it, so long.
STALE_READING_SECONDS, STALE_READING_WAIT_SECONDS = 1.0, 0.5
# Retry-After of a refusal: the pending orders move on within about a second.
RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class Refusal:
    """Why an order is refused now, and when to try again."""

    reason: str
    retry_after_seconds: int

    @property
    def detail(self) -> str:
        return (
            f"{self.reason}; nothing was written. Try again in {self.retry_after_seconds} s (with the"
            " same Idempotency-Key, if you sent one)."
        )


def saga_outage(outage_seen_at: dict[str, float], now: float) -> bool:
    """Whether a stage of the saga's path is in an outage, or was within the last
    ORDERS_ADMISSION_GRACE_SECONDS, per the latest measurements.

    A stage stale, missing, or with events waiting and not moving for
    ORDERS_ADMISSION_MOVING_SECONDS is in an outage (a broker down, a participant stopped or
    frozen), and so is every stage while one is unknown; `outage_seen_at` (the door's memory)
    records when each was last seen so. A stage catching up after an outage is draining a
    backlog, not taking more than it can: the door does not limit for it until the grace is over
    (make chaos: without it the door refused orders through a Kafka outage and just after it)."""
    stages = pipeline.delays(list(saga.SAGA_STAGES))
    unknown = len(stages) < len(saga.SAGA_STAGES) or any(stage.stale for stage in stages.values())
    for name in saga.SAGA_STAGES:
        stage = stages.get(name)
        idle = (
            stage is not None
            and stage.backlog
            and stage.idle_seconds > settings.ORDERS_ADMISSION_MOVING_SECONDS
        )
        if unknown or idle or stage.stalled:
            outage_seen_at[name] = now
    grace = settings.ORDERS_ADMISSION_GRACE_SECONDS
    return any(now - outage_seen_at.get(name, -math.inf) <= grace for name in saga.SAGA_STAGES)


class Door:
    """One web process's door: how many orders it is placing, and how many it lets into the saga."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        saga_now: Callable[[float, float], tuple[int, int, float]] = selectors.orders_saga_now,
        outage: Callable[[dict[str, float], float], bool] | None = None,
    ):
        self._clock, self._saga_now = clock, saga_now
        self._outage_now = outage or saga_outage
        self._lock = threading.Lock()
        self._slot_freed = threading.Condition(self._lock)
        self._queued = 0
        self._queue_empty_at = -math.inf
        self._checked_at = -math.inf
        self._refreshing = False
        self._read = threading.Condition(self._lock)
        self._read_at = -math.inf  # when the reading judged by was taken
        self.in_flight = 0
        self._outage_seen_at: dict[str, float] = {}
        self.limit = float(settings.ORDERS_ADMISSION_INITIAL_LIMIT)
        # As last read, plus the orders this door admitted since.
        self.pending = 0
        self.completion = 0.0
        self.lifted = False

    def refusal(self) -> Refusal | None:
        """None to admit the order (then call placed() once it is answered); else why not and
        when to try again."""
        self._refresh()
        with self._lock:
            if not self.lifted and self.pending >= int(self.limit):
                return Refusal(
                    f"{self.pending} orders are being processed, as many as the service takes at once now",
                    RETRY_AFTER_SECONDS,
                )
            if not self._slot_taken():
                return Refusal("too many orders are being placed at this moment", RETRY_AFTER_SECONDS)
            self.pending += 1
            return None

    def _refresh(self) -> None:
        """Re-read the saga's queue if the last reading is older than a refresh. One request
        reads it, outside the lock: the others go through the door on the reading before (a
        reading under the lock held every placement in the process behind its query: 5 % of the
        time under overload, in py-spy's samples of 2026-12-02)."""
        with self._lock:
            now = self._clock()
            if self._refreshing and now - self._read_at > STALE_READING_SECONDS:
                # A door nobody knocked at for a while holds a reading of another time (a backlog
                # long gone): the burst that finds it waits a moment for the fresh one instead.
                self._read.wait(timeout=STALE_READING_WAIT_SECONDS)
                return
            if self._refreshing or now - self._checked_at < settings.ORDERS_ADMISSION_REFRESH_SECONDS:
                return
            self._checked_at, self._refreshing = now, True
        reading = outage = None
        try:
            outage = self._outage_now(self._outage_seen_at, now)
            reading = self._saga_now(
                settings.ORDERS_ADMISSION_WINDOW_SECONDS, settings.ORDERS_ADMISSION_HORIZON_SECONDS
            )
        finally:
            with self._lock:
                self._refreshing = False
                if reading is not None:
                    self._adapt(*reading, outage=outage)
                    self._read_at = now
                self._read.notify_all()

    def placed(self) -> None:
        """An admitted placement was answered."""
        with self._lock:
            self.in_flight -= 1
            self._slot_freed.notify()

    def _slot_taken(self) -> bool:
        """Take a placement slot, waiting for one a moment if few others wait (the lock held).

        The wait is controlled delay, CoDel's rule as Facebook applies it to its servers' queues
        (Maurer, "Fail at Scale", ACM Queue 13(8), 2015): ORDERS_ADMISSION_QUEUE_SECONDS while
        the queue for slots was empty within the last STANDING_QUEUE_PATIENCES of them (a burst,
        which passes), STANDING_QUEUE_WAIT_SECONDS once it was not (an overload, where a queue
        that never empties only adds its wait to every answer). The saga's limit binding (its
        pending orders at half the limit or more) is an overload too, whatever the queue for
        slots: there the burst's patience would only lengthen the answers of orders the saga has
        little room for (docs/benchmarks.md)."""
        limit = settings.ORDERS_ADMISSION_MAX_IN_FLIGHT
        now = self._clock()
        if not self._queued:
            self._queue_empty_at = now
        if self.in_flight >= limit:
            if self._queued >= settings.ORDERS_ADMISSION_MAX_QUEUED:
                return False
            patience = settings.ORDERS_ADMISSION_QUEUE_SECONDS
            if self._limit_binds() or now - self._queue_empty_at > patience * STANDING_QUEUE_PATIENCES:
                patience = STANDING_QUEUE_WAIT_SECONDS
            self._queued += 1
            try:
                freed = self._slot_freed.wait_for(lambda: self.in_flight < limit, timeout=patience)
            finally:
                self._queued -= 1
                if not self._queued:
                    self._queue_empty_at = self._clock()
            if not freed:
                return False
        self.in_flight += 1
        return True

    def _limit_binds(self) -> bool:
        """Whether the limit is what holds orders back: pending at LIMIT_BINDING of it or more
        (the lock held)."""
        return not self.lifted and self.pending >= self.limit * LIMIT_BINDING

    def _adapt(self, pending: int, finished: int, completion: float, *, outage: bool) -> None:
        """Take a reading of the saga, and move the limit towards the pending count at which the
        orders finishing take the target (the lock held)."""
        self.pending, self.completion = pending, completion
        # Nothing finishing while orders wait: the saga is stopped, not slow.
        self.lifted = outage or (pending > 0 and not finished)
        if self.lifted:
            return  # the queue is waiting out an outage, not telling the saga's capacity
        target = settings.ORDERS_ADMISSION_TARGET_SECONDS
        if completion > target:
            ratio = max(target / completion, LIMIT_DECREASE_MIN)
        elif self._limit_binds():
            ratio = min(target / completion, LIMIT_INCREASE_MAX) if completion > 0 else LIMIT_INCREASE_MAX
        else:
            # The saga keeps up with what comes: nothing says it could not take as many as at the
            # start, so an overload's low limit does not turn the next burst away.
            self.limit = max(self.limit, float(settings.ORDERS_ADMISSION_INITIAL_LIMIT))
            metrics.ADMISSION_LIMIT.set(self.limit)
            return
        step = self.limit * (1 - LIMIT_SMOOTHING + LIMIT_SMOOTHING * ratio)
        self.limit = min(max(step, settings.ORDERS_ADMISSION_MIN_LIMIT), settings.ORDERS_ADMISSION_MAX_LIMIT)
        metrics.ADMISSION_LIMIT.set(self.limit)


DOOR = Door()
