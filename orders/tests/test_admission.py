"""Admission control at placement: refuse a share of new orders, writing nothing, while the saga
is too far behind; never refuse reads; do not flap; cost no query per request."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.test import override_settings

from events.models import PipelineStage
from orders import metrics
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
        ORDERS_ADMISSION_MAX_WAIT_SECONDS=5.0,
        ORDERS_ADMISSION_REOPEN_RATIO=0.5,
        ORDERS_ADMISSION_REFRESH_SECONDS=1.0,
    ):
        yield


def saga_behind(measured, inventory: float, *, stalled=(), ago: float = 0.0, **rates) -> None:
    """The saga's path measured with inventory's oldest event `inventory` seconds old (and its
    backlog and drain rate in `rates`, by stage name), nothing waiting elsewhere."""
    stages = {
        "outbox": 0.0,
        "consumer:inventory": inventory,
        "consumer:payments": 0.0,
        "consumer:orders": 0.0,
    }
    measured(stages, stalled=stalled, ago=ago, **rates)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """A fresh door for the web process, on a clock the test moves, whose chance admits an order
    only while the door admits them all (0.99 is above any share but 1)."""
    clock = Clock()
    monkeypatch.setattr(admission, "DOOR", admission.Door(clock=clock, chance=lambda: 0.99))
    return clock


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


def test_an_order_goes_through_while_the_saga_keeps_up(clock, pipeline_measured):
    saga_behind(pipeline_measured, inventory=1.0)

    django, status, _, _ = call("POST", "/api/v1/orders")

    assert (django.requests, status) == ([("POST", "/api/v1/orders")], "202 Accepted")


def test_placement_is_refused_with_503_and_retry_after_before_django_sees_it(clock, pipeline_measured):
    # given inventory's consumers twelve seconds behind
    saga_behind(pipeline_measured, inventory=12.0)
    shed_before = metrics.PLACEMENTS_SHED._value.get()

    # when
    django, status, headers, body = call("POST", "/api/v1/orders")

    # then nothing reached Django (nothing can have been written); 12 s expected, 2.5 s to reopen
    assert django.requests == []
    assert (status, headers["Retry-After"], headers["Content-Type"]) == (
        "503 Service Unavailable",
        "10",
        "application/json",
    )
    assert body["detail"] == (
        "orders are taking about 12 s to be processed, more than usual; nothing was written. Try again"
        " in 10 s (with the same Idempotency-Key, if you sent one)."
    )
    assert metrics.PLACEMENTS_SHED._value.get() == shed_before + 1


def test_the_door_reads_the_wait_a_new_order_would_have_not_the_oldest_events_age(clock, pipeline_measured):
    # given inventory's oldest event only 3 s old, but 1,400 waiting and 200 worked off a second:
    # an order placed now would wait 7 s there (events arriving faster than they are applied:
    # the backlog grew)
    saga_behind(
        pipeline_measured,
        inventory=3.0,
        backlogs={"consumer:inventory": 1400},
        drains={"consumer:inventory": 200.0},
        grew={"consumer:inventory"},
    )

    _, status, _, body = call("POST", "/api/v1/orders")

    assert status == "503 Service Unavailable"
    assert body["detail"].startswith("orders are taking about 7 s to be processed")


def test_a_backlog_worked_off_quickly_does_not_close_the_door(clock, pipeline_measured):
    # given a minute-old event at inventory, whose 300 waiting go at 600 a second: half a second
    saga_behind(
        pipeline_measured,
        inventory=60.0,
        backlogs={"consumer:inventory": 300},
        drains={"consumer:inventory": 600.0},
    )

    assert call("POST", "/api/v1/orders")[1] == "202 Accepted"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v1/orders"), ("GET", "/api/v1/products"), ("POST", "/api/v1/orders/1/cancel")],
)
def test_reads_and_other_requests_are_never_refused(clock, pipeline_measured, method, path):
    saga_behind(pipeline_measured, inventory=60.0)
    assert call("POST", "/api/v1/orders")[1].startswith("503")

    django, status, _, _ = call(method, path)

    assert (django.requests, status) == ([(method, path)], "202 Accepted")


def test_the_admitted_share_falls_above_the_bound_and_rises_only_well_below_it(clock, pipeline_measured):
    def refresh(inventory: float) -> float:
        saga_behind(pipeline_measured, inventory=inventory)
        clock.now += 1.0
        call("POST", "/api/v1/orders")
        return round(admission.DOOR.share, 2)

    assert refresh(4.0) == 1.0  # below the bound: every order
    assert [refresh(6.0), refresh(6.0)] == [0.7, 0.49]  # above: down by 30 % at each refresh
    assert refresh(4.0) == 0.49  # below the bound, above 2.5 s: it holds (no flapping)
    assert [refresh(2.0) for _ in range(3)] == [0.54, 0.59, 0.64]  # below 2.5 s: it grows
    assert [refresh(4.0), refresh(1.0), refresh(1.0)] == [0.64, 0.69, 0.74]
    assert [refresh(60.0) for _ in range(10)][-1] == admission.ADMIT_MIN  # a trickle always flows


def test_the_door_admits_its_share_of_orders_by_chance(monkeypatch, pipeline_measured):
    draws = iter([0.1, 0.3, 0.6, 0.9])
    monkeypatch.setattr(admission, "DOOR", admission.Door(chance=lambda: next(draws)))
    saga_behind(pipeline_measured, inventory=6.0)  # the first refresh takes the share to 0.7

    answers = [call("POST", "/api/v1/orders")[1][:3] for _ in range(4)]

    assert answers == ["202", "202", "202", "503"]


def test_the_door_reads_the_measurements_at_most_once_per_refresh(
    clock, pipeline_measured, django_assert_num_queries
):
    saga_behind(pipeline_measured, inventory=60.0)
    with django_assert_num_queries(1):
        assert call("POST", "/api/v1/orders")[1].startswith("503")

    # within the same second, a refusal costs no query at all
    with django_assert_num_queries(0):
        for _ in range(10):
            assert call("POST", "/api/v1/orders")[1].startswith("503")


def test_a_stalled_participant_is_an_outage_not_a_backlog_and_orders_are_taken(clock, pipeline_measured):
    # given inventory stopped, its events waiting a minute: placing orders keeps working
    saga_behind(pipeline_measured, inventory=60.0, stalled={"consumer:inventory"})

    assert call("POST", "/api/v1/orders")[1] == "202 Accepted"


def test_orders_are_taken_while_the_delay_is_unknown(clock, pipeline_measured):
    # given the last measurement a minute old (the broker or the watcher is down)
    saga_behind(pipeline_measured, inventory=60.0, ago=60)

    assert call("POST", "/api/v1/orders")[1] == "202 Accepted"


def test_a_database_that_does_not_answer_is_left_to_django(clock, pipeline_measured):
    def refuse(execute, sql, params, many, context):
        raise OperationalError("connection refused")

    with connection.execute_wrapper(refuse):
        django, status, _, _ = call("POST", "/api/v1/orders")

    # Django then answers 503 "database unavailable" as for any request (config/middleware.py)
    assert (django.requests, status) == ([("POST", "/api/v1/orders")], "202 Accepted")


@override_settings(ORDERS_ADMISSION_MAX_IN_FLIGHT=2, ORDERS_ADMISSION_MAX_QUEUED=0)
def test_no_more_than_the_limit_are_placed_at_once_in_a_process(clock, pipeline_measured):
    # given the saga keeping up, no room to wait, and a third order arriving while two are placed
    saga_behind(pipeline_measured, inventory=0.0)
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


def test_an_order_that_fails_inside_django_frees_its_place(clock, pipeline_measured):
    saga_behind(pipeline_measured, inventory=0.0)

    def fail():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        call("POST", "/api/v1/orders", meanwhile=fail)

    assert admission.DOOR.in_flight == 0


@override_settings(
    ORDERS_ADMISSION_MAX_IN_FLIGHT=1, ORDERS_ADMISSION_MAX_QUEUED=1, ORDERS_ADMISSION_QUEUE_SECONDS=5
)
def test_an_order_over_the_limit_waits_for_a_slot_and_goes_through(pipeline_measured):
    # given one order being placed (the only slot) and a second one arriving
    saga_behind(pipeline_measured, inventory=0.0)
    door = admission.Door()
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
def test_an_order_that_waited_its_time_for_a_slot_is_refused(pipeline_measured):
    saga_behind(pipeline_measured, inventory=0.0)
    door = admission.Door()
    assert door.refusal() is None

    refusal = door.refusal()

    assert refusal is not None and refusal.retry_after_seconds == 1
    assert (door.in_flight, door._queued) == (1, 0)


def test_a_door_left_closed_opens_with_the_time_that_passed_not_only_with_orders(clock, pipeline_measured):
    # given a door that an overload closed to its trickle
    saga_behind(pipeline_measured, inventory=60.0)
    for _ in range(10):
        clock.now += 1.0
        call("POST", "/api/v1/orders")
    assert admission.DOOR.share == admission.ADMIT_MIN

    # when the saga caught up and nobody placed an order for a minute
    saga_behind(pipeline_measured, inventory=0.0)
    clock.now += 60.0

    # then the next order finds the door open, as it would have been with orders all along
    assert call("POST", "/api/v1/orders")[1] == "202 Accepted"
    assert admission.DOOR.share == 1.0


def test_a_stage_that_stopped_moving_a_moment_ago_does_not_close_the_door(clock, pipeline_measured):
    # given inventory 60 s behind and not moving for 5 s (a broker gone, a frozen worker): not yet
    # stalled for the saga's timeouts (15 s), but no backlog the door could shed
    saga_behind(pipeline_measured, inventory=60.0)
    stage = PipelineStage.objects.get(name="consumer:inventory")
    PipelineStage.objects.filter(pk=stage.pk).update(progressed_at=stage.measured_at - timedelta(seconds=5))

    assert call("POST", "/api/v1/orders")[1] == "202 Accepted"
    assert saga.saga_backlog() == 60.0  # the timeouts still count it as a backlog


def test_a_stage_catching_up_after_an_outage_does_not_close_the_door_until_its_grace_is_over(
    clock, pipeline_measured
):
    # given inventory stopped, then back and working through a minute's backlog
    saga_behind(pipeline_measured, inventory=60.0, stalled={"consumer:inventory"})
    assert call("POST", "/api/v1/orders")[1] == "202 Accepted"
    saga_behind(pipeline_measured, inventory=60.0)

    # then within the grace the door stays open: the backlog drains, nothing is gained by refusing
    clock.now += 1.0
    assert call("POST", "/api/v1/orders")[1] == "202 Accepted"

    # and past it, a backlog still that large is an overload like any other
    clock.now += 31.0
    assert call("POST", "/api/v1/orders")[1] == "503 Service Unavailable"


def test_an_order_does_not_wait_for_another_reading_the_measurements(monkeypatch, pipeline_measured):
    # given one order reading the measured wait (its query slow), and the reading before it a
    # refresh old
    saga_behind(pipeline_measured, inventory=0.0)
    door = admission.Door()
    assert door.refusal() is None
    door.placed()
    door._checked_at -= 2.0
    reading, release = threading.Event(), threading.Event()

    def slow_reading(outage_seen_at, now):
        reading.set()
        release.wait(timeout=10)
        return 0.0

    monkeypatch.setattr(admission, "expected_wait", slow_reading)
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


@override_settings(
    ORDERS_ADMISSION_MAX_IN_FLIGHT=1, ORDERS_ADMISSION_MAX_QUEUED=2, ORDERS_ADMISSION_QUEUE_SECONDS=5
)
def test_a_queue_for_slots_that_has_not_emptied_makes_the_next_order_wait_only_a_moment(
    clock, pipeline_measured
):
    # given the only slot taken, and a second order waiting for it since the clock's 0
    saga_behind(pipeline_measured, inventory=0.0)
    door = admission.DOOR
    assert door.refusal() is None
    second = threading.Thread(target=door.refusal)
    second.start()
    wait_until(lambda: door._queued == 1, timeout=5, message="the second order to wait")

    # when a third comes 6 s later (over the 5 s a burst may wait), the queue not emptied since
    clock.now += 6.0
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


def test_a_door_reopening_after_an_overload_says_so_not_that_orders_take_0_s(clock, pipeline_measured):
    # given a door an overload closed, the wait now back under the bound: it opens a step a refresh
    saga_behind(pipeline_measured, inventory=60.0)
    call("POST", "/api/v1/orders")
    saga_behind(pipeline_measured, inventory=0.0)
    clock.now += 1.0

    _, status, _, body = call("POST", "/api/v1/orders")

    assert status == "503 Service Unavailable"
    assert body["detail"].startswith(
        "orders were taking longer than usual to be processed; the service is taking more again; nothing"
    )
