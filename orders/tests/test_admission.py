"""Admission control at placement: refuse new orders, writing nothing, while as many are pending
as the door's limit, which follows the latest outcomes' completion time to its target; never
refuse reads; lift the limit while the saga is stopped or a stage of it in an outage; settle near
the saga's capacity under an overload without cycling; cost no query per request."""

import json
import threading
import time
from collections import deque
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test import override_settings
from django.utils import timezone

from events.models import PipelineStage
from orders import metrics, selectors
from orders.models import Order
from orders.services import admission, saga
from orders.wsgi import AdmissionMiddleware
from tests.polling import wait_until

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("bounds"),
]


@pytest.fixture
def bounds():
    with override_settings(
        ORDERS_ADMISSION_TARGET_SECONDS=0.5,
        ORDERS_ADMISSION_WINDOW_SECONDS=0.5,
        ORDERS_ADMISSION_HORIZON_SECONDS=2.0,
        ORDERS_ADMISSION_INITIAL_LIMIT=100,
        ORDERS_ADMISSION_MIN_LIMIT=10,
        ORDERS_ADMISSION_MAX_LIMIT=1000,
        ORDERS_ADMISSION_REFRESH_SECONDS=1.0,
    ):
        yield


def saga_measured(measured, *, stalled=(), ago: float = 0.0) -> None:
    """The saga's path measured as moving (or with `stalled` stages), nothing waiting."""
    stages = {"outbox": 0.0, "consumer:inventory": 0.0, "consumer:payments": 0.0, "consumer:orders": 0.0}
    measured(stages, stalled=stalled, ago=ago)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Saga:
    """The saga as the door reads it: pending orders, and the orders that finished in the window
    and their median completion time."""

    def __init__(self, pending: int = 0, finished: int = 10, completion: float = 0.5):
        # (completing at the target: the limit holds)
        self.pending, self.finished, self.completion, self.reads = pending, finished, completion, 0

    def __call__(self, window_seconds: float, horizon_seconds: float):
        self.reads += 1
        return self.pending, self.finished, self.completion


@pytest.fixture
def clock(monkeypatch):
    """A fresh door for the web process, on a clock the test moves."""
    clock = Clock()
    monkeypatch.setattr(admission, "DOOR", admission.Door(clock=clock))
    return clock


@pytest.fixture
def queue(monkeypatch, pipeline_measured):
    """A fresh door reading a saga the test sets (its path measured as moving), on a clock the
    test moves: door.clock, door.saga."""
    clock, state = Clock(), Saga()
    saga_measured(pipeline_measured)
    door = admission.Door(clock=clock, saga_now=state)
    door.clock, door.saga = clock, state
    monkeypatch.setattr(admission, "DOOR", door)
    return door


def refresh(door, pending: int, completion: float, finished: int = 10) -> float:
    """The next refresh's reading; the limit after it."""
    door.saga.pending, door.saga.completion, door.saga.finished = pending, completion, finished
    door.clock.now += 1.0
    call("POST", "/api/v1/orders")
    return round(door.limit, 1)


class Django:
    """Stands in for Django's handler behind the door: records what reached it, and can place
    another order through the door while it handles one (`meanwhile`)."""

    def __init__(self, meanwhile=None):
        self.requests = []
        self.meanwhile = meanwhile

    def __call__(self, environ, start_response):
        self.requests.append((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
        if self.meanwhile:
            self.meanwhile()
        start_response("202 Accepted", [("Content-Type", "application/json")])
        return [b"{}"]


def call(method: str, path: str, meanwhile=None) -> tuple[Django, str, dict, dict]:
    """One request through the door; what reached Django, the status, headers and body."""
    django, answer = Django(meanwhile), {}

    def start_response(status, headers):
        answer["status"], answer["headers"] = status, dict(headers)

    body = b"".join(
        AdmissionMiddleware(django)({"REQUEST_METHOD": method, "PATH_INFO": path}, start_response)
    )
    return django, answer["status"], answer["headers"], json.loads(body)


def test_an_order_goes_through_while_fewer_are_pending_than_the_limit(queue):
    queue.saga.pending = 99

    django, status, _, _ = call("POST", "/api/v1/orders")

    assert (django.requests, status) == ([("POST", "/api/v1/orders")], "202 Accepted")


def test_placement_is_refused_with_503_and_retry_after_before_django_sees_it(queue):
    # given as many orders pending as the limit (100)
    queue.saga.pending = 100
    shed_before = metrics.PLACEMENTS_SHED._value.get()

    # when
    django, status, headers, body = call("POST", "/api/v1/orders")

    # then nothing reached Django (nothing can have been written)
    assert django.requests == []
    assert (status, headers["Retry-After"], headers["Content-Type"]) == (
        "503 Service Unavailable",
        "1",
        "application/json",
    )
    assert body["detail"] == (
        "100 orders are being processed, as many as the service takes at once now; nothing was"
        " written. Try again in 1 s (with the same Idempotency-Key, if you sent one)."
    )
    assert metrics.PLACEMENTS_SHED._value.get() == shed_before + 1


def test_the_orders_a_door_admits_count_until_its_next_reading(queue):
    # given 97 pending as read, a limit of 100
    queue.saga.pending = 97

    answers = [call("POST", "/api/v1/orders")[1][:3] for _ in range(5)]

    # then three more get in before the next reading, not five
    assert answers == ["202", "202", "202", "503", "503"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/orders"), ("GET", "/api/v1/products"), ("POST", "/api/v1/orders/1/cancel")],
)
def test_reads_and_other_requests_are_never_refused(queue, method, path):
    queue.saga.pending = 1000
    assert call("POST", "/api/v1/orders")[1].startswith("503")

    django, status, _, _ = call(method, path)

    assert (django.requests, status) == ([(method, path)], "202 Accepted")


def test_the_limit_falls_in_proportion_while_the_orders_finishing_took_longer_than_the_target(queue):
    # a tenth of the way to limit x target / completion, never more than halved in one step
    assert refresh(queue, pending=100, completion=1.0) == 95.0  # 100 x (0.9 + 0.1 x 0.5)
    assert refresh(queue, pending=95, completion=0.625) == 93.1  # x (0.9 + 0.1 x 0.8)
    assert refresh(queue, pending=93, completion=10.0) == 88.4  # halved at most: x 0.95
    assert [refresh(queue, pending=10, completion=60.0) for _ in range(80)][-1] == 10.0  # its floor


def test_the_limit_grows_only_while_it_binds_and_the_orders_finishing_took_less_than_the_target(queue):
    assert refresh(queue, pending=20, completion=0.2) == 100.0  # not binding: the initial limit
    assert refresh(queue, pending=60, completion=0.4) == 102.5  # binding: x (0.9 + 0.1 x 1.25)
    assert refresh(queue, pending=60, completion=0.5) == 102.5  # at the target: no change
    assert refresh(queue, pending=100, completion=0.0) == 105.1  # none took any time: +25 % step
    assert [refresh(queue, pending=2000, completion=0.1) for _ in range(200)][-1] == 1000.0  # its ceiling


def test_a_saga_keeping_up_again_after_an_overload_has_its_initial_limit_back_at_once(queue):
    # given an overload that took the limit down
    [refresh(queue, pending=100, completion=5.0) for _ in range(20)]
    assert queue.limit < 50

    # when the pending orders are few and finish on time
    assert refresh(queue, pending=5, completion=0.1) == 100.0


def test_the_door_reads_the_saga_at_most_once_per_refresh(queue, django_assert_num_queries):
    queue.saga.pending = 1000
    with django_assert_num_queries(1):  # the pipeline's stages (the pending orders: the fake)
        assert call("POST", "/api/v1/orders")[1].startswith("503")
    assert queue.saga.reads == 1

    # within the same refresh, a refusal costs no query at all
    with django_assert_num_queries(0):
        for _ in range(10):
            assert call("POST", "/api/v1/orders")[1].startswith("503")
    assert queue.saga.reads == 1


def make_orders(customer, orders: list[tuple[str, float, float]]) -> None:
    """Orders of (status, placed seconds ago, last changed seconds ago)."""
    now = timezone.now()
    for status, placed_ago, changed_ago in orders:
        order = Order.objects.create(customer=customer, total_amount=1, status=status)
        Order.objects.filter(pk=order.pk).update(
            created_at=now - timedelta(seconds=placed_ago), updated_at=now - timedelta(seconds=changed_ago)
        )


def test_the_pending_orders_and_the_latest_outcomes_are_read_from_the_orders_table(
    django_user_model, django_assert_num_queries
):
    # given within a horizon of 5 s: three orders pending (one more placed before it), and four
    # that finished a moment ago, after 1, 2 and 3 s and one after 9 s; older outcomes and a
    # cancelled order (no outcome of the saga) that do not count
    customer = django_user_model.objects.create_user("c", password="x")
    make_orders(
        customer,
        [
            ("pending", 1, 1),
            ("pending", 2, 2),
            ("pending", 3, 3),
            ("pending", 60, 60),
            ("completed", 1.2, 0.2),
            ("failed", 2.2, 0.2),
            ("completed", 3.2, 0.2),
            ("completed", 9.2, 0.2),
            ("completed", 60, 30),
            ("cancelled", 3.2, 0.2),
        ],
    )

    with django_assert_num_queries(1):
        pending, finished, completion = selectors.orders_saga_now(1.0, 5.0)

    # every outcome of the window counts as finished; the latency is of those within the horizon
    assert (pending, finished) == (3, 4)
    assert completion == pytest.approx(2.0)


def test_with_no_outcome_within_the_horizon_the_latency_is_the_oldest_pending_age(django_user_model):
    # given orders pending for 1 and 1.5 s, and one outcome after 9 s
    customer = django_user_model.objects.create_user("c", password="x")
    make_orders(customer, [("pending", 1, 1), ("pending", 1.5, 1.5), ("completed", 9.2, 0.2)])

    pending, finished, completion = selectors.orders_saga_now(1.0, 5.0)

    assert (pending, finished) == (2, 1)
    assert 1.4 <= completion < 2.5  # the database's now() is its transaction's start


def test_a_saga_with_nothing_pending_and_no_outcome_lately_reads_a_latency_of_0():
    assert selectors.orders_saga_now(0.5, 2.0) == (0, 0, 0.0)


def test_a_saga_in_which_nothing_finishes_is_stopped_and_orders_are_taken_over_the_limit(queue):
    # given the pending orders over the limit and none finished in the window: the broker or a
    # participant just went down, before the pipeline's watcher sees it
    queue.saga.pending, queue.saga.finished = 5000, 0
    queue.clock.now += 1.0

    assert call("POST", "/api/v1/orders")[1] == "202 Accepted"
    assert queue.limit == 100  # a stopped saga says nothing of its capacity

    # and once orders finish again, that many pending is an overload like any other
    queue.saga.finished, queue.saga.completion = 10, 5.0
    queue.clock.now += 1.0
    assert call("POST", "/api/v1/orders")[1] == "503 Service Unavailable"


def test_a_stalled_participant_is_an_outage_and_orders_are_taken_over_the_limit(queue, pipeline_measured):
    # given inventory stopped, its events waiting a minute, the pending orders over the limit
    saga_measured(pipeline_measured, stalled={"consumer:inventory"})
    queue.saga.pending, queue.saga.completion = 5000, 60.0
    queue.clock.now += 1.0

    assert call("POST", "/api/v1/orders")[1] == "202 Accepted"
    assert queue.limit == 100  # an outage's queue says nothing of the saga's capacity


def test_orders_are_taken_while_the_saga_is_not_measured(queue, pipeline_measured):
    # given the last measurement a minute old (the broker or the watcher is down)
    saga_measured(pipeline_measured, ago=60)
    queue.saga.pending = 5000
    queue.clock.now += 1.0

    assert call("POST", "/api/v1/orders")[1] == "202 Accepted"


def test_a_stage_catching_up_after_an_outage_keeps_the_limit_lifted_until_its_grace_is_over(
    queue, pipeline_measured
):
    # given inventory stopped, then back and working through the orders that waited
    saga_measured(pipeline_measured, stalled={"consumer:inventory"})
    queue.saga.pending, queue.saga.completion = 5000, 60.0
    queue.clock.now += 1.0
    assert call("POST", "/api/v1/orders")[1] == "202 Accepted"
    saga_measured(pipeline_measured)

    # then within the grace the door stays open: the backlog drains, nothing is gained by refusing
    queue.clock.now += 1.0
    assert call("POST", "/api/v1/orders")[1] == "202 Accepted"

    # and past it, that many pending is an overload like any other
    queue.clock.now += 31.0
    assert call("POST", "/api/v1/orders")[1] == "503 Service Unavailable"


def test_a_stage_that_stopped_moving_a_moment_ago_is_an_outage(queue, pipeline_measured):
    # given inventory's events waiting and not moving for 5 s (a broker gone, a frozen worker):
    # not yet stalled for the saga's timeouts (15 s), but no queue the door could shed
    pipeline_measured(
        {"outbox": 0.0, "consumer:inventory": 60.0, "consumer:payments": 0.0, "consumer:orders": 0.0}
    )
    stage = PipelineStage.objects.get(name="consumer:inventory")
    PipelineStage.objects.filter(pk=stage.pk).update(progressed_at=stage.measured_at - timedelta(seconds=5))
    queue.saga.pending = 5000
    queue.clock.now += 1.0

    assert call("POST", "/api/v1/orders")[1] == "202 Accepted"
    assert saga.saga_backlog() == 60.0  # the timeouts still count it as a backlog


def test_a_database_that_does_not_answer_is_left_to_django(clock, pipeline_measured):
    def refuse(execute, sql, params, many, context):
        raise OperationalError("connection refused")

    with connection.execute_wrapper(refuse):
        django, status, _, _ = call("POST", "/api/v1/orders")

    # Django then answers 503 "database unavailable" as for any request (config/middleware.py),
    # and the door frees no slot it never took (its count of placements under way stays true)
    assert (django.requests, status) == ([("POST", "/api/v1/orders")], "202 Accepted")
    assert admission.DOOR.in_flight == 0


class SlowSaga:
    """A synthetic saga of fixed capacity: orders wait in line, each takes `latency` seconds to
    be worked once it reaches the head, and `capacity` a second are worked, in order. One order
    in `every` (none if 0) then waits `aside` seconds more for the card provider, pending but
    taking none of the capacity, as a charge that timed out waits for its retry."""

    def __init__(self, capacity: float, latency: float, every: int = 0, aside: float = 0.0):
        self.capacity, self.latency, self.every, self.aside = capacity, latency, every, aside
        self.placed: deque[float] = deque()  # the pending orders' placement times, oldest first
        self.waiting: deque[tuple[float, float]] = deque()  # (placed, done at) of those aside
        self.outcomes: deque[tuple[float, float]] = deque()  # (finished at, completion seconds)
        self.credit = 0.0
        self.worked = 0

    def place(self, now: float) -> None:
        self.placed.append(now)

    def work(self, now: float, seconds: float) -> None:
        # what it could not use (nothing ready) is not saved up: at most a fraction carries over
        self.credit = min(self.credit + self.capacity * seconds, self.capacity * seconds + 1)
        while self.placed and self.credit >= 1 and now - self.placed[0] >= self.latency:
            placed = self.placed.popleft()
            self.credit -= 1
            self.worked += 1
            if self.every and self.worked % self.every == 0:
                self.waiting.append((placed, now + self.aside))
            else:
                self.outcomes.append((now, now - placed))
        while self.waiting and self.waiting[0][1] <= now:
            placed, done = self.waiting.popleft()
            self.outcomes.append((now, now - placed))

    def reading(self, now: float, window: float, horizon: float) -> tuple[int, int, float]:
        """As the orders table answers it (orders/sql.py ORDERS_SAGA_NOW)."""
        while self.outcomes and self.outcomes[0][0] <= now - window:
            self.outcomes.popleft()
        young = [placed for placed in self.placed if now - placed < horizon]
        young += [placed for placed, _ in self.waiting if now - placed < horizon]
        completions = sorted(seconds for _, seconds in self.outcomes if seconds < horizon)
        if completions:
            return len(young), len(self.outcomes), completions[len(completions) // 2]
        return len(young), len(self.outcomes), now - min(young) if young else 0.0


@override_settings(
    ORDERS_ADMISSION_REFRESH_SECONDS=0.25,
    ORDERS_ADMISSION_INITIAL_LIMIT=200,
    ORDERS_ADMISSION_MAX_LIMIT=5000,
    ORDERS_ADMISSION_TARGET_SECONDS=1.0,
    ORDERS_ADMISSION_HORIZON_SECONDS=2.0,
)
@pytest.mark.parametrize(
    ("capacity", "latency", "every", "aside"),
    [
        (250, 0.35, 0, 0.0),
        (250, 0.75, 0, 0.0),
        (100, 0.35, 0, 0.0),
        # a third of the charges waiting 10 s for a retry (make chaos's flaky provider)
        (100, 0.35, 3, 10.0),
        (250, 0.35, 3, 10.0),
    ],
)
def test_under_twice_its_capacity_the_door_settles_near_the_capacity_without_cycling(
    monkeypatch, capacity, latency, every, aside
):
    # given a saga of that capacity and latency, offered twice its capacity for a minute
    slow, clock = SlowSaga(capacity, latency, every, aside), Clock()
    door = admission.Door(
        clock=clock,
        saga_now=lambda window, horizon: slow.reading(clock.now, window, horizon),
        outage=lambda seen, now: False,
    )
    monkeypatch.setattr(door, "_slot_taken", lambda: True)  # only the saga's limit here
    tick, admitted, completions = 0.01, [], []
    for step in range(int(60 / tick)):
        clock.now = step * tick
        for _ in range(int(2 * capacity * tick)):
            if door.refusal() is None:
                slow.place(clock.now)
                admitted.append(clock.now)
        slow.work(clock.now, tick)
        if step % 100 == 0 and clock.now >= 15:
            completions.append(slow.reading(clock.now, 0.5, 2.0)[2])

    # then from 15 s on, every 5 s window takes within 10 % of the capacity, and the orders
    # finishing take about the target
    windows = [sum(1 for t in admitted if start <= t < start + 5) / 5 for start in range(15, 60, 5)]
    assert all(abs(rate - capacity) <= 0.1 * capacity for rate in windows), windows
    assert max(windows) - min(windows) <= 0.1 * capacity, windows  # no cycling
    assert abs(sorted(completions)[len(completions) // 2] - 1.0) < 0.2, completions


@override_settings(ORDERS_ADMISSION_MAX_IN_FLIGHT=2, ORDERS_ADMISSION_MAX_QUEUED=0)
def test_no_more_than_the_limit_are_placed_at_once_in_a_process(queue):
    # given the saga keeping up, no room to wait, and a third order arriving while two are placed
    third = {}

    def third_order():
        third["answer"] = call("POST", "/api/v1/orders")

    def second_order():
        call("POST", "/api/v1/orders", meanwhile=third_order)

    # when
    django, status, _, _ = call("POST", "/api/v1/orders", meanwhile=second_order)

    # then the third is refused at once, and once those two are answered, the next goes through
    _, third_status, headers, body = third["answer"]
    assert (status, third_status, headers["Retry-After"]) == ("202 Accepted", "503 Service Unavailable", "1")
    assert body["detail"].startswith("too many orders are being placed at this moment; nothing was written")
    assert admission.DOOR.in_flight == 0
    assert call("POST", "/api/v1/orders")[1] == "202 Accepted"


def test_an_order_that_fails_inside_django_frees_its_place(queue):
    def fail():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        call("POST", "/api/v1/orders", meanwhile=fail)

    assert admission.DOOR.in_flight == 0


@override_settings(
    ORDERS_ADMISSION_MAX_IN_FLIGHT=1, ORDERS_ADMISSION_MAX_QUEUED=1, ORDERS_ADMISSION_QUEUE_SECONDS=5
)
def test_an_order_over_the_limit_waits_for_a_slot_and_goes_through(queue):
    # given one order being placed (the only slot) and a second one arriving
    door = admission.Door(saga_now=Saga(), outage=lambda seen, now: False)
    assert door.refusal() is None
    waited = {}

    def second():
        started = time.monotonic()
        waited["refusal"], waited["seconds"] = door.refusal(), time.monotonic() - started

    thread = threading.Thread(target=second)
    thread.start()
    wait_until(lambda: door._queued == 1, timeout=5, message="the second order to wait")

    # when the first is answered
    door.placed()
    thread.join(timeout=5)

    # then the second took its slot, well before its 5 s were up
    assert waited["refusal"] is None
    assert waited["seconds"] < 5
    assert door.in_flight == 1


@override_settings(
    ORDERS_ADMISSION_MAX_IN_FLIGHT=1, ORDERS_ADMISSION_MAX_QUEUED=1, ORDERS_ADMISSION_QUEUE_SECONDS=0.05
)
def test_an_order_that_waited_its_time_for_a_slot_is_refused():
    door = admission.Door(saga_now=Saga(), outage=lambda seen, now: False)
    assert door.refusal() is None

    refusal = door.refusal()

    assert refusal is not None and refusal.retry_after_seconds == 1
    assert (door.in_flight, door._queued) == (1, 0)


def test_an_order_does_not_wait_for_another_reading_the_saga():
    # given one order reading the saga (its query slow), and the reading before it a refresh old
    reading, release = threading.Event(), threading.Event()

    def slow_reading(window_seconds, horizon_seconds):
        reading.set()
        release.wait(timeout=10)
        return 0, 0, 0.0

    door = admission.Door(
        saga_now=lambda window_seconds, horizon_seconds: (0, 0, 0.0), outage=lambda seen, now: False
    )
    assert door.refusal() is None
    door.placed()
    door._saga_now = slow_reading
    door._checked_at -= 2.0
    first = threading.Thread(target=door.refusal)
    first.start()
    assert reading.wait(timeout=5)

    # when another order comes meanwhile, then it goes through on the reading before, at once
    try:
        started = time.monotonic()
        assert door.refusal() is None
        assert time.monotonic() - started < 1
    finally:
        release.set()
        first.join(timeout=5)
    assert door.in_flight == 2


def test_an_order_that_finds_a_reading_of_another_time_waits_for_the_fresh_one(queue):
    # given a door whose last reading, seconds ago, was a saga full to its limit
    queue.saga.pending = 1000
    assert call("POST", "/api/v1/orders")[1].startswith("503")
    reading, release = threading.Event(), threading.Event()

    def slow_reading(window_seconds, horizon_seconds):
        reading.set()
        release.wait(timeout=10)
        return 0, 10, 0.5  # the backlog is gone

    queue._saga_now = slow_reading
    queue._outage_now = lambda seen, now: False  # no query from the threads below
    queue.clock.now += 5.0
    first = threading.Thread(target=queue.refusal)
    first.start()
    assert reading.wait(timeout=5)

    # when another order comes while the fresh reading is read, then it waits for it: admitted
    answer = {}
    second = threading.Thread(target=lambda: answer.setdefault("refusal", queue.refusal()))
    second.start()
    wait_until(lambda: len(queue._read._waiters) == 1, timeout=5, message="the second order to wait")
    release.set()
    first.join(timeout=5)
    second.join(timeout=5)
    assert answer["refusal"] is None


@override_settings(
    ORDERS_ADMISSION_MAX_IN_FLIGHT=1, ORDERS_ADMISSION_MAX_QUEUED=2, ORDERS_ADMISSION_QUEUE_SECONDS=5
)
def test_a_queue_for_slots_that_has_not_emptied_makes_the_next_order_wait_only_a_moment(queue):
    # given the only slot taken, and a second order waiting for it since the clock's 0
    door = admission.DOOR
    assert door.refusal() is None
    second = threading.Thread(target=door.refusal)
    second.start()
    wait_until(lambda: door._queued == 1, timeout=5, message="the second order to wait")

    # when a third comes 11 s later (over the twice 5 s a burst's queue may stand), the queue not
    # emptied since
    door.clock.now += 11.0
    try:
        started = time.monotonic()
        refusal = door.refusal()
        waited = time.monotonic() - started
    finally:
        door.placed()
        second.join(timeout=5)

    # then it is refused after the standing queue's moment, not after 5 s
    assert refusal is not None and refusal.reason == "too many orders are being placed at this moment"
    assert waited < 1
    assert door.in_flight == 1  # the second took the slot the first freed


@override_settings(
    ORDERS_ADMISSION_MAX_IN_FLIGHT=1,
    ORDERS_ADMISSION_MAX_QUEUED=2,
    ORDERS_ADMISSION_QUEUE_SECONDS=5,
    ORDERS_ADMISSION_INITIAL_LIMIT=200,
)
def test_while_the_saga_limit_binds_an_order_waits_for_a_slot_only_a_moment():
    # given a saga with as many orders pending as half the door's limit (an overload, not a burst)
    door = admission.Door(saga_now=Saga(pending=100), outage=lambda seen, now: False)
    assert door.limit == 200
    assert door.refusal() is None  # the only slot

    # when another order comes, the queue for slots empty until now
    started = time.monotonic()
    refusal = door.refusal()

    # then it is refused after the standing queue's moment, not after the burst's 5 s
    assert refusal is not None and refusal.reason == "too many orders are being placed at this moment"
    assert time.monotonic() - started < 1


@override_settings(
    ORDERS_ADMISSION_MAX_IN_FLIGHT=1,
    ORDERS_ADMISSION_MAX_QUEUED=2,
    ORDERS_ADMISSION_QUEUE_SECONDS=0.3,
    ORDERS_ADMISSION_INITIAL_LIMIT=200,
)
def test_while_the_saga_has_room_an_order_waits_the_burst_patience_for_a_slot():
    # given a saga with pending orders under half the door's limit (a burst, not an overload)
    door = admission.Door(saga_now=Saga(pending=90), outage=lambda seen, now: False)
    assert door.refusal() is None

    # when another order comes and the slot stays taken, then it waited its whole patience
    started = time.monotonic()
    refusal = door.refusal()

    assert refusal is not None and refusal.reason == "too many orders are being placed at this moment"
    assert time.monotonic() - started >= 0.3
