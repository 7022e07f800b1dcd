"""The sweep, over faked internal APIs: a divergence is opened once, fixed once if its policy is
automatic, and closed by the first audit that no longer sees it; a service that does not answer
stops the sweep without touching any divergence. And the reconcile command that runs one."""

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.envelope import Envelope
from events.models import OutboxEvent
from reconciliation import clients
from reconciliation.models import Divergence, DivergenceAction, Fix, Kind, OrderSaga, Severity, Sweep
from reconciliation.services import resolution
from reconciliation.services import sweep as sweep_module
from reconciliation.services.sweep import sweep_run
from reconciliation.tests.conftest import ORDER
from reconciliation.tests.records import product_record
from reconciliation.tests.test_projection import apply

pytestmark = pytest.mark.django_db

Action = DivergenceAction.Action
Status = Divergence.Status


def sweep(*order_ids: str, settle_seconds: int | None = 0) -> Sweep:
    """Audit exactly these orders (every order changed since the last sweep if none)."""
    return sweep_run(triggered_by="test", order_ids=list(order_ids) or None, settle_seconds=settle_seconds)


def the_divergence() -> Divergence:
    return Divergence.objects.get()


def trail(divergence: Divergence) -> list[str]:
    return list(divergence.actions.values_list("action", flat=True))


def commands() -> list[tuple[str, str]]:
    return list(OutboxEvent.objects.order_by("id").values_list("event_type", "aggregate_id"))


def counts(run: Sweep) -> dict:
    return {
        name: getattr(run, name)
        for name in ("orders_audited", "found", "opened", "closed", "fixes_requested", "error")
    }


@pytest.fixture
def charged_for_failed_order(services):
    """Payments captured the money of an order that failed."""
    services.order(ORDER, "failed", "released", "captured")
    return services


# --- opening ---


def test_a_divergence_found_is_opened_with_what_each_service_said(charged_for_failed_order, policy):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=False)

    run = sweep(ORDER)

    divergence = the_divergence()
    assert (divergence.kind, divergence.severity, divergence.status, divergence.suggested_fix) == (
        Kind.CHARGED_NOT_COMPLETED,
        Severity.CRITICAL,
        Status.OPEN,
        Fix.REFUND_PAYMENT,
    )
    assert (divergence.subject, divergence.order_id) == (f"order {ORDER}", ORDER)
    assert (divergence.first_seen_at, divergence.last_seen_at) == (run.started_at, run.started_at)
    assert {side: (record or {}).get("status") for side, record in divergence.evidence.items()} == {
        "orders": "failed",
        "inventory": "released",
        "payments": "captured",
        "projection": None,
    }
    assert list(divergence.actions.values_list("action", "actor")) == [(Action.DETECTED, resolution.SYSTEM)]
    assert counts(run) == {
        "orders_audited": 1,
        "found": 1,
        "opened": 1,
        "closed": 0,
        "fixes_requested": 0,
        "error": "",
    }
    assert run.finished_at is not None
    assert commands() == []


def test_a_divergence_seen_again_is_refreshed_not_opened_twice(charged_for_failed_order, policy):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=False)
    sweep(ORDER)

    again = sweep(ORDER)

    divergence = the_divergence()
    assert (again.found, again.opened) == (1, 0)
    assert divergence.last_seen_at == again.started_at
    assert trail(divergence) == [Action.DETECTED]


def test_a_disabled_rule_opens_nothing(charged_for_failed_order, policy):
    policy(Kind.CHARGED_NOT_COMPLETED, enabled=False)

    run = sweep(ORDER)

    assert (run.found, Divergence.objects.count()) == (0, 0)


def test_an_order_still_moving_is_left_for_a_later_sweep(services, policy):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=True)
    services.order(ORDER, "failed", "released", "captured", age=timedelta(seconds=1))

    run = sweep(ORDER, settle_seconds=60)

    assert (run.orders_audited, run.found, Divergence.objects.count(), commands()) == (1, 0, 0, [])


def test_an_open_divergence_of_an_order_still_moving_is_not_closed(services, policy):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=False)
    services.order(ORDER, "failed", "released", "captured")
    sweep(ORDER)
    services.order(ORDER, "failed", "released", "refunded", age=timedelta(seconds=1))

    run = sweep(ORDER, settle_seconds=60)

    assert (run.closed, the_divergence().status) == (0, Status.OPEN)


# --- fixing and closing ---


def test_an_automatic_policy_sends_the_fix_once_and_the_audit_then_closes_it_as_auto_resolved(
    charged_for_failed_order, policy
):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=True)

    first = sweep(ORDER)
    second = sweep(ORDER)

    assert commands() == [("RefundPayment", ORDER)]
    assert (first.fixes_requested, second.fixes_requested) == (1, 0)
    divergence = the_divergence()
    assert (divergence.status, divergence.fix_automatic) == (Status.OPEN, True)
    assert trail(divergence) == [Action.DETECTED, Action.FIX_REQUESTED]

    charged_for_failed_order.order(ORDER, "failed", "released", "refunded")
    third = sweep(ORDER)

    divergence.refresh_from_db()
    assert (third.found, third.closed) == (0, 1)
    assert divergence.status == Status.AUTO_RESOLVED
    assert divergence.closed_at is not None
    assert trail(divergence) == [Action.DETECTED, Action.FIX_REQUESTED, Action.CONFIRMED_GONE]
    assert divergence.actions.last().outcome == "the audit no longer sees it after the fix"
    assert commands() == [("RefundPayment", ORDER)]


def test_a_manual_policy_sends_nothing_and_a_repair_by_hand_closes_it_as_resolved(
    charged_for_failed_order, policy
):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=False)
    sweep(ORDER)
    assert commands() == []

    charged_for_failed_order.order(ORDER, "failed", "released", "refunded")
    run = sweep(ORDER)

    divergence = the_divergence()
    assert (run.closed, divergence.status) == (1, Status.RESOLVED)
    assert divergence.actions.last().outcome == "the audit no longer sees it"


def test_an_audit_closes_only_what_it_looked_at_and_no_longer_sees(services, policy):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=False)
    repaired, still_wrong, not_audited = (f"{n}0000000-0000-4000-8000-000000000000" for n in (1, 2, 3))
    for order_id in (repaired, still_wrong, not_audited):
        services.order(order_id, "failed", "released", "captured")
    sweep(repaired, still_wrong, not_audited)
    assert Divergence.objects.filter(status=Status.OPEN).count() == 3

    services.order(repaired, "failed", "released", "refunded")
    run = sweep(repaired, still_wrong)

    status = dict(Divergence.objects.values_list("order_id", "status"))
    assert status == {repaired: Status.RESOLVED, still_wrong: Status.OPEN, not_audited: Status.OPEN}
    assert run.closed == 1


def test_a_fix_support_sent_is_resolved_not_auto_resolved(charged_for_failed_order, policy):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=False)
    sweep(ORDER)
    resolution.divergence_apply_fix(divergence=the_divergence(), actor="alice")

    charged_for_failed_order.order(ORDER, "failed", "released", "refunded")
    sweep(ORDER)

    divergence = the_divergence()
    assert divergence.status == Status.RESOLVED
    assert trail(divergence) == [Action.DETECTED, Action.FIX_REQUESTED, Action.CONFIRMED_GONE]


def test_a_divergence_marked_resolved_that_the_audit_still_sees_opens_anew(charged_for_failed_order, policy):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=False)
    sweep(ORDER)
    old = resolution.divergence_mark_resolved(divergence=the_divergence(), actor="alice")

    run = sweep(ORDER)

    new = Divergence.objects.exclude(pk=old.pk).get()
    assert (run.opened, Divergence.objects.get(pk=old.pk).status, new.status) == (
        1,
        Status.RESOLVED,
        Status.OPEN,
    )
    assert trail(new) == [Action.DETECTED]


def test_an_automatic_policy_never_sends_a_manual_fix(services, policy):
    policy(Kind.COMPLETED_UNPAID, automatic=True)
    services.order(ORDER, "completed", "committed", None)

    run = sweep(ORDER)

    assert (the_divergence().kind, run.fixes_requested, commands()) == (Kind.COMPLETED_UNPAID, 0, [])


def test_an_ignored_divergence_is_never_reopened_fixed_or_closed(charged_for_failed_order, policy):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=False)
    sweep(ORDER)
    resolution.divergence_ignore(divergence=the_divergence(), actor="alice", reason="staff test order")
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=True)

    still_there = sweep(ORDER)
    charged_for_failed_order.order(ORDER, "failed", "released", "refunded")
    gone = sweep(ORDER)

    divergence = the_divergence()
    assert divergence.status == Status.IGNORED
    assert divergence.last_seen_at == still_there.started_at
    assert (still_there.opened, still_there.fixes_requested, gone.closed) == (0, 0, 0)
    assert trail(divergence) == [Action.DETECTED, Action.IGNORED]
    assert commands() == []


def test_a_drifted_reserved_counter_is_recounted_by_inventory(services, policy):
    policy(Kind.RESERVED_COUNT_MISMATCH, automatic=True)
    services.products = [product_record("MUG", stock=10, reserved=3, held=2), product_record("CUP")]

    run = sweep()

    divergence = the_divergence()
    assert (divergence.kind, divergence.subject, divergence.order_id) == (
        Kind.RESERVED_COUNT_MISMATCH,
        "product MUG",
        "",
    )
    assert (run.products_audited, run.fixes_requested) == (2, 1)
    assert commands() == [("RecountReserved", "MUG")]

    services.products = [product_record("MUG", stock=10, reserved=2, held=2), product_record("CUP")]
    assert sweep().closed == 1
    assert the_divergence().status == Status.AUTO_RESOLVED


def test_a_lost_event_is_a_gap_redriven_from_its_producer_until_the_projection_has_it(services, policy):
    policy(Kind.EVENT_GAP, automatic=True)
    services.order(ORDER, "completed", "committed", "captured")
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    lost, *received = [
        saga_event("OrderCreated", "orders", 1, long_ago),
        saga_event("InventoryReserved", "inventory", 1, long_ago),
        saga_event("PaymentProcessed", "payments", 1, long_ago),
        saga_event("InventoryCommitted", "inventory", 2, long_ago),
        saga_event("OrderCompleted", "orders", 2, long_ago),
    ]
    for event in received:
        apply(event)

    sweep(ORDER)

    divergence = the_divergence()
    assert (divergence.kind, divergence.subject) == (Kind.EVENT_GAP, f"order {ORDER} events from orders")
    assert commands() == [("RepublishEvents", ORDER)]
    assert OutboxEvent.objects.get().envelope["payload"]["services"] == ["orders"]

    apply(lost)
    sweep(ORDER)

    assert the_divergence().status == Status.AUTO_RESOLVED


def saga_event(event_type: str, producer: str, sequence: int, occurred_at: datetime) -> Envelope:
    lines = [{"sku": "MUG", "quantity": 2, "unit_price": "6.00"}]
    payloads = {
        "OrderCreated": {
            "order_id": ORDER,
            "customer_id": "alice",
            "lines": lines,
            "total_amount": "12.00",
            "currency": "EUR",
            "payment_token": "tok_visa",
        },
        "InventoryReserved": {"order_id": ORDER, "lines": lines},
        "PaymentProcessed": {"order_id": ORDER, "payment_id": "p1", "status": "succeeded", "amount": "12.00"},
        "InventoryCommitted": {"order_id": ORDER},
        "OrderCompleted": {"order_id": ORDER},
    }
    return Envelope(
        event_type=event_type,
        version=1,
        aggregate_type="order",
        aggregate_id=ORDER,
        sequence=sequence,
        payload=payloads[event_type],
        producer=producer,
        correlation_id=ORDER,
        occurred_at=occurred_at,
    )


# --- what is audited ---


def test_the_projection_is_repaired_from_the_services_once(services):
    services.order(ORDER, "completed", "committed", "captured")

    first, second = sweep(ORDER), sweep(ORDER)

    assert (first.projection_repaired, second.projection_repaired) == (1, 0)
    saga = OrderSaga.objects.get()
    assert (saga.order_status, saga.reservation_status, saga.payment_status) == (
        "completed",
        "committed",
        "captured",
    )


def test_a_sweep_of_orders_that_agree_costs_the_same_statements_however_many_it_audits(services):
    def agreeing_orders(count: int) -> list[str]:
        order_ids = [f"{ORDER[:-4]}{n:04d}" for n in range(count)]
        for order_id in order_ids:
            services.order(order_id, "completed", "committed", "captured")
        sweep(*order_ids)  # the projection learns them from the services
        return order_ids

    few, many = agreeing_orders(2), agreeing_orders(40)
    with CaptureQueriesContext(connection) as for_few:
        sweep(*few)
    with CaptureQueriesContext(connection) as for_many:
        sweep(*many)

    # each saga is read with all the others, in one query, not once more per order
    assert len(for_many.captured_queries) == len(for_few.captured_queries)


def test_a_scheduled_sweep_audits_what_changed_since_the_last_one_and_what_is_still_open(services, policy):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=False)
    services.order(ORDER, "failed", "released", "captured", age=timedelta(minutes=30))
    first = sweep()
    services.asked.clear()

    second = sweep()

    assert first.since is not None
    assert services.asked[0] == (
        "since",
        first.started_at - timedelta(seconds=settings.RECONCILIATION_SWEEP_OVERLAP_SECONDS),
    )
    # Its records did not change since the first sweep; it is audited again all the same.
    assert services.asked[1] == ("orders", (ORDER,))
    assert (second.orders_audited, second.found, second.opened) == (1, 1, 0)


def test_a_pending_order_past_its_sla_is_audited_and_failed(services, policy):
    policy(Kind.STUCK_ORDER, automatic=True, threshold_seconds=300)
    services.order(ORDER, "pending", "held", "pending", age=timedelta(minutes=10))

    run = sweep()

    assert (the_divergence().kind, run.fixes_requested) == (Kind.STUCK_ORDER, 1)
    assert commands() == [("FailOrder", ORDER)]


# --- a service down ---


def test_a_service_that_does_not_answer_stops_the_sweep_and_changes_no_divergence(
    charged_for_failed_order, policy
):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=False)
    sweep(ORDER)
    before = the_divergence()
    charged_for_failed_order.order(ORDER, "failed", "released", "refunded")
    charged_for_failed_order.order("other-order", "failed", "held", None)
    charged_for_failed_order.down = "payments"

    run = sweep(ORDER, "other-order")

    assert run.error == "payments: connection refused"
    assert run.finished_at is not None
    assert (run.found, run.opened, run.closed, run.fixes_requested) == (0, 0, 0, 0)
    after = the_divergence()
    assert (after.status, after.last_seen_at, trail(after)) == (
        Status.OPEN,
        before.last_seen_at,
        [Action.DETECTED],
    )


def test_a_failed_sweep_is_not_the_start_of_the_next_window(services):
    ok = sweep()
    services.down = "orders"
    sweep()
    services.down = ""
    services.asked.clear()

    sweep()

    overlap = timedelta(seconds=settings.RECONCILIATION_SWEEP_OVERLAP_SECONDS)
    assert services.asked[0] == ("since", ok.started_at - overlap)


# --- the reconcile command ---


def reconcile(*args: str) -> str:
    out = StringIO()
    call_command("reconcile", *args, stdout=out)
    return out.getvalue()


def test_reconcile_runs_a_sweep_and_prints_what_it_did(charged_for_failed_order, policy):
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=True)

    out = reconcile("--order", ORDER, "--settle-seconds", "0")

    run = Sweep.objects.get()
    assert run.triggered_by == "reconcile command"
    assert out == (
        f"sweep {run.pk}: audited 1 orders, 0 products; 1 divergences seen, 1 new, 0 closed, "
        f"1 fixes sent, 1 projection rows repaired\n"
    )


def test_reconcile_audits_the_orders_changed_since_a_zoned_time(services):
    reconcile("--since", "2026-11-24T10:00Z")

    assert services.asked[0] == ("since", datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    assert Sweep.objects.get().since == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("since", ["yesterday", "2026-11-24T10:00", "2026-11-24"])
def test_reconcile_refuses_a_since_that_is_not_a_zoned_iso_time(services, since):
    with pytest.raises(
        CommandError, match=re.escape(f"--since {since!r} is not an ISO 8601 time with a zone")
    ):
        reconcile("--since", since)

    assert not Sweep.objects.exists()


def test_reconcile_refuses_an_impossible_since(services):
    with pytest.raises(CommandError, match="is not an ISO 8601 time"):
        reconcile("--since", "2026-02-30T10:00Z")


def test_reconcile_takes_orders_or_a_window_not_both(services):
    with pytest.raises(CommandError, match="give --order or --since, not both"):
        reconcile("--order", ORDER, "--since", "2026-11-24T10:00Z")


def test_reconcile_fails_when_the_sweep_could_not_finish(services):
    services.down = "inventory"

    with pytest.raises(CommandError, match=r"sweep \d+ could not finish: inventory: connection refused"):
        reconcile("--order", ORDER)


class Clock:
    """time for the sweep module: it moves only when slept or advanced."""

    def __init__(self):
        self.now, self.slept = 0.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_large_sweep_audits_in_chunks_and_rests_between_them_for_its_duty(
    services, policy, settings, monkeypatch
):
    # Given five orders, two of them divergent in different chunks; a sweep that audits two
    # orders at a time and works a quarter of the time; each read of the services takes 1 s
    settings.RECONCILIATION_SWEEP_CHUNK, settings.RECONCILIATION_SWEEP_DUTY = 2, 0.25
    clock = Clock()
    monkeypatch.setattr(sweep_module, "time", clock)
    ids = [f"order-{n}" for n in range(5)]
    for order_id in ids:
        services.order(order_id, "completed", "committed", "captured")
    services.order(ids[0], "failed", "released", "captured")
    services.order(ids[4], "failed", "released", "captured")
    policy(Kind.CHARGED_NOT_COMPLETED, automatic=False)
    read = services.state_of_orders

    def slow_read(order_ids, known=None):
        clock.now += 1
        return read(order_ids, known)

    monkeypatch.setattr(clients, "state_of_orders", slow_read)

    # When it audits them
    run = sweep(*ids)

    # Then it read them two by two, rested three times as long as each read between them, and
    # judged every order as a sweep of one chunk would
    chunks = [asked for kind, asked in services.asked if kind == "orders"]
    assert chunks == [tuple(ids[0:2]), tuple(ids[2:4]), (ids[4],)]
    assert clock.slept == [3.0, 3.0]
    assert (run.orders_audited, run.opened, run.error) == (5, 2, "")
    assert sorted(Divergence.objects.values_list("order_id", flat=True)) == [ids[0], ids[4]]


def test_a_scheduled_sweep_gives_way_while_the_pipeline_is_overloaded(
    services, policy, settings, monkeypatch, pipeline_measured
):
    # Given payments' consumers with 3,000 events waiting and growing, worked off at 1,000 a second
    # (3 s for a new one), over the 2 s a scheduled sweep gives way to, for the first 4 s of its start
    settings.RECONCILIATION_SWEEP_YIELD_WAIT_SECONDS = 2.0
    clock = Clock()
    monkeypatch.setattr(sweep_module, "time", clock)
    services.order(ORDER, "completed", "committed", "captured")

    def overload_until_4_s():
        waiting = 3000 if clock.now < 4 else 0
        pipeline_measured(
            {"consumer:payments": 1.5 if waiting else 0.0},
            backlogs={"consumer:payments": waiting},
            drains={"consumer:payments": 1000.0},
            grew={"consumer:payments"},
        )

    overloaded = sweep_module.pipeline_overloaded
    monkeypatch.setattr(sweep_module, "pipeline_overloaded", lambda: overload_until_4_s() or overloaded())

    # When a scheduled sweep runs, and a sweep asked for by a person
    scheduled = sweep_run(triggered_by="schedule", order_ids=[ORDER], settle_seconds=0, yield_to_load=True)
    slept_scheduled = list(clock.slept)
    clock.now = 0.0
    by_hand = sweep(ORDER)

    # Then the scheduled one waited until the load was gone, then audited; the person's did not wait
    assert slept_scheduled == [1.0] * 4
    assert (scheduled.orders_audited, scheduled.error) == (1, "")
    assert clock.slept == slept_scheduled and by_hand.orders_audited == 1


def test_a_scheduled_sweep_gives_way_for_at_most_its_bound(
    services, settings, monkeypatch, pipeline_measured
):
    settings.RECONCILIATION_SWEEP_YIELD_MAX_SECONDS = 5.0
    clock = Clock()
    monkeypatch.setattr(sweep_module, "time", clock)
    services.order(ORDER, "completed", "committed", "captured")
    pipeline_measured({"consumer:inventory": 60.0})  # a minute behind, for good

    run = sweep_run(triggered_by="schedule", order_ids=[ORDER], settle_seconds=0, yield_to_load=True)

    assert sum(clock.slept) == 5.0
    assert (run.orders_audited, run.error) == (1, "")
