"""Admission control at placement: refuse new orders quickly, before writing anything, when
taking them would harm the orders already taken. Two limits, each in every web process:

1. The saga's wait. While a new order would wait longer than ORDERS_ADMISSION_MAX_WAIT_SECONDS
   for its saga to be worked, the door admits a falling share of new orders, each by chance. The
   expected wait is the pipeline's wait along the saga's path as `watch_pipeline` measured it
   (events/pipeline.py): the orders outbox, then inventory's, payments' and orders' consumer
   groups, each its backlog at the rate it drains it lately (not the age of its oldest event,
   which under a growing backlog is half the wait at twice the capacity), leaving out a stage
   in an outage or catching up after one (expected_wait). At each refresh the share
   falls by 30 % (ADMIT_DECREASE) while the wait is over the bound, grows by ADMIT_STEP once it
   is below ORDERS_ADMISSION_REOPEN_RATIO of it, and holds in between (hysteresis, so that the
   door does not flap). Placing orders keeps working while another service or the broker is
   down: those orders wait in the outbox and the queues, and the saga's timeouts catch a
   participant that never answers.
2. Placements at once. No more than ORDERS_ADMISSION_MAX_IN_FLIGHT orders are being placed in a
   process at a time. One more waits for a slot, at most ORDERS_ADMISSION_QUEUE_SECONDS (5 ms
   once the queue for slots has not emptied for that long: controlled delay) and behind at most
   ORDERS_ADMISSION_MAX_QUEUED others (a burst of customers on an idle stack goes through), else
   it is refused (Retry-After 1). The web process has more threads than that
   (ORDERS_WEB_THREADS), so requests beyond it reach the door instead of queueing unseen for a
   thread. This is what keeps placement fast under a sudden overload: the
   saga's wait is seen a second or two late (measured once a second; the consumers yield the CPU
   to the web processes), and an on/off door on it alone let twice the capacity in for those
   seconds, placement p50 near 2 s (docs/benchmarks.md, "Overload").

Each door re-reads the measured wait at most once every ORDERS_ADMISSION_REFRESH_SECONDS (one
small query; none per request). It runs ahead of Django (orders/wsgi.py): a refusal costs no
request set-up, no authentication, no body parsing, no query and no log line.
"""

import math
import random
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from events import pipeline
from orders.services import saga

# The admitted share falls to ADMIT_DECREASE of itself at each refresh over a bound, never below
# ADMIT_MIN (a trickle of orders keeps the signals alive), and grows by ADMIT_STEP below both.
ADMIT_DECREASE, ADMIT_MIN, ADMIT_STEP = 0.7, 0.05, 0.05
# How long a placement waits for a slot while the queue for slots has not emptied for a while.
STANDING_QUEUE_WAIT_SECONDS = 0.005
# Retry-After is at least this, and at most the other.
RETRY_AFTER_MIN_SECONDS, RETRY_AFTER_MAX_SECONDS = 1, 30


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


def expected_wait(outage_seen_at: dict[str, float], now: float) -> float:
    """Seconds a new order would wait for its saga to be worked, per the latest measurements,
    counting only the stages that have moved all through the last ORDERS_ADMISSION_GRACE_SECONDS.

    A stage stale, missing, or with events waiting and not moving for
    ORDERS_ADMISSION_MOVING_SECONDS is in an outage (a broker down, a participant stopped or
    frozen), and so is every stage while one is unknown; `outage_seen_at` (the door's memory)
    records when each was last seen so. A stage catching up after an outage is draining a
    backlog, not taking more than it can: the door does not shed for it until the grace is over
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
    return sum(
        stage.wait_seconds
        for name, stage in stages.items()
        if now - outage_seen_at.get(name, -math.inf) > grace
    )


class Door:
    """One web process's door: how many orders it is placing, and the share of new ones it admits."""

    def __init__(self, clock=time.monotonic, chance=random.random):
        self._clock, self._chance = clock, chance
        self._lock = threading.Lock()
        self._slot_freed = threading.Condition(self._lock)
        self._queued = 0
        self._queue_empty_at = -math.inf
        self._checked_at = -math.inf
        self._refreshing = False
        self._wait = 0.0
        self.in_flight = 0
        self._outage_seen_at: dict[str, float] = {}
        self.share = 1.0

    def refusal(self) -> Refusal | None:
        """None to admit the order (then call placed() once it is answered); else why not and
        when to try again."""
        self._refresh()
        with self._lock:
            if self.share >= 1.0 or self._chance() < self.share:
                if not self._slot_taken():
                    return Refusal("too many orders are being placed at this moment", RETRY_AFTER_MIN_SECONDS)
                return None
            reopen_below = settings.ORDERS_ADMISSION_MAX_WAIT_SECONDS * settings.ORDERS_ADMISSION_REOPEN_RATIO
            retry_after = min(
                max(math.ceil(self._wait - reopen_below), RETRY_AFTER_MIN_SECONDS), RETRY_AFTER_MAX_SECONDS
            )
            if self._wait > settings.ORDERS_ADMISSION_MAX_WAIT_SECONDS:
                reason = f"orders are taking about {self._wait:.0f} s to be processed, more than usual"
            else:
                # The wait fell back under the bound: the door opens a step at each refresh.
                reason = (
                    "orders were taking longer than usual to be processed; the service is taking more again"
                )
            return Refusal(reason, retry_after)

    def _refresh(self) -> None:
        """Re-read the measured wait if the last reading is older than a refresh. One request
        reads it, outside the lock: the others go through the door on the reading before (a
        reading under the lock held every placement in the process behind its query: 5 % of the
        time under overload, in py-spy's samples of 2026-12-02)."""
        with self._lock:
            now = self._clock()
            refresh = settings.ORDERS_ADMISSION_REFRESH_SECONDS
            if self._refreshing or now - self._checked_at < refresh:
                return
            # A door nobody knocked at since counts every refresh it missed: once quiet, it
            # opens as fast as it would have with orders coming (the wait does not need them).
            missed = 1 if self._checked_at == -math.inf else int((now - self._checked_at) // refresh)
            self._checked_at, self._refreshing = now, True
        wait = None
        try:
            wait = expected_wait(self._outage_seen_at, now)
        finally:
            with self._lock:
                self._refreshing = False
                if wait is not None:
                    self._adapt(wait, refreshes=missed)

    def placed(self) -> None:
        """An admitted placement was answered."""
        with self._lock:
            self.in_flight -= 1
            self._slot_freed.notify()

    def _slot_taken(self) -> bool:
        """Take a placement slot, waiting for one a moment if few others wait (the lock held).

        The wait is controlled delay, CoDel's rule as Facebook applies it to its servers' queues
        (Maurer, "Fail at Scale", ACM Queue 13(8), 2015): ORDERS_ADMISSION_QUEUE_SECONDS while
        the queue for slots was empty within the last ORDERS_ADMISSION_QUEUE_SECONDS (a burst,
        which passes), STANDING_QUEUE_WAIT_SECONDS once it was not (an overload, where a queue
        that never empties only adds its wait to every answer)."""
        limit = settings.ORDERS_ADMISSION_MAX_IN_FLIGHT
        now = self._clock()
        if not self._queued:
            self._queue_empty_at = now
        if self.in_flight >= limit:
            if self._queued >= settings.ORDERS_ADMISSION_MAX_QUEUED:
                return False
            patience = settings.ORDERS_ADMISSION_QUEUE_SECONDS
            if now - self._queue_empty_at > patience:
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

    def _adapt(self, wait: float, *, refreshes: int = 1) -> None:
        self._wait = wait
        bound = settings.ORDERS_ADMISSION_MAX_WAIT_SECONDS
        if wait > bound:
            self.share = max(self.share * ADMIT_DECREASE, ADMIT_MIN)
        elif wait < bound * settings.ORDERS_ADMISSION_REOPEN_RATIO:
            self.share = min(self.share + ADMIT_STEP * refreshes, 1.0)


DOOR = Door()
