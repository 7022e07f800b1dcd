"""The rules, one by one, on plain data: each reports its divergence with the right kind, severity
and fix, and says nothing about a consistent order or one still moving through its saga."""

from datetime import UTC, datetime, timedelta

import pytest

from reconciliation import rules
from reconciliation.models import Fix, Kind, Severity
from reconciliation.tests.records import order_record, payment_record, product_record, reservation_record

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SETTLE = timedelta(seconds=15)
SLA = timedelta(seconds=300)
CTX = rules.Context(now=NOW, settle=SETTLE, pending_sla=SLA)
# Long enough ago to have settled; recently enough to be still moving.
OLD = NOW - timedelta(hours=1)
RECENT = NOW - timedelta(seconds=5)
ORDER = "2b9ad4d4-6c5e-4b8a-9a55-0f5d5f3c1a01"


def view(
    order: str | None = "completed",
    reservation: str | None = "committed",
    payment: str | None = "captured",
    *,
    at: datetime = OLD,
    total: str = "12.00",
    amount: str = "12.00",
    saga: dict | None = None,
    steps: list[tuple[str, int]] | None = None,
) -> rules.OrderView:
    """One order as the three services see it; None where a service has no record of it."""
    return rules.OrderView(
        order_id=ORDER,
        order=order and order_record(ORDER, order, at=at, total=total),
        reservation=reservation and reservation_record(ORDER, reservation, at=at),
        payment=payment and payment_record(ORDER, payment, at=at, amount=amount),
        saga=saga,
        steps=steps or [],
    )


def judged(finding: rules.Finding) -> tuple[str, str, str]:
    return finding.kind, finding.severity, finding.fix


# Orders whose three services agree, at each point of the saga.
CONSISTENT = {
    "just placed": ("pending", None, None),
    "stock held, not charged yet": ("pending", "held", "pending"),
    "charged, not committed yet": ("pending", "held", "captured"),
    "completed": ("completed", "committed", "captured"),
    "rejected for stock": ("failed", "rejected", "voided"),
    "declined": ("failed", "released", "declined"),
    "cancelled before the charge": ("cancelled", "released", "voided"),
    "cancelled after the charge": ("cancelled", "released", "refunded"),
    "failed, never reached inventory": ("failed", None, None),
}


@pytest.mark.parametrize("rule", [*rules.ORDER_RULES.values()], ids=lambda rule: rule.__name__)
@pytest.mark.parametrize("sides", CONSISTENT.values(), ids=CONSISTENT.keys())
def test_no_order_rule_reports_a_consistent_order(rule, sides):
    # Settled, and placed within the stuck-order SLA.
    assert rule(view(*sides, at=NOW - timedelta(minutes=1)), CTX) == []


def test_every_kind_has_a_rule_that_reports_it():
    reported = set(rules.ORDER_RULES) | set(rules.ALSO_REPORTS) | set(rules.PRODUCT_KINDS)

    assert reported == set(Kind)


# --- completed_unpaid (and amount_mismatch) ---


@pytest.mark.parametrize(
    ("payment", "state"), [(None, "no payment"), ("declined", "declined"), ("refunded", "refunded")]
)
def test_a_completed_order_without_a_captured_payment_is_critical_and_manual(payment, state):
    (finding,) = rules.completed_unpaid(view("completed", "committed", payment), CTX)

    assert judged(finding) == (Kind.COMPLETED_UNPAID, Severity.CRITICAL, Fix.MANUAL)
    assert (finding.subject, finding.order_id) == (f"order {ORDER}", ORDER)
    assert finding.detail == f"order is completed but its payment is {state}"
    services = [e["service"] for e in finding.entities]
    assert services == (["orders"] if payment is None else ["orders", "payments"])


@pytest.mark.parametrize(("amount", "total"), [("12.50", "12.00"), ("12.00", "12.01"), ("0.00", "12")])
def test_a_captured_amount_that_differs_from_the_total_is_an_amount_mismatch(amount, total):
    (finding,) = rules.completed_unpaid(view(amount=amount, total=total), CTX)

    assert judged(finding) == (Kind.AMOUNT_MISMATCH, Severity.CRITICAL, Fix.MANUAL)
    assert finding.detail == f"payment captured {amount} for an order of {total}"


@pytest.mark.parametrize(("amount", "total"), [("12.0", "12.00"), ("12", "12.00"), ("12.00", "12.000")])
def test_amounts_are_compared_as_decimals_not_as_strings(amount, total):
    assert rules.completed_unpaid(view(amount=amount, total=total), CTX) == []


def test_a_completed_unpaid_order_still_moving_is_not_reported():
    assert rules.completed_unpaid(view("completed", "committed", None, at=RECENT), CTX) == []
    assert rules.completed_unpaid(view(amount="1.00", at=RECENT), CTX) == []


def test_an_order_settles_exactly_when_the_settle_time_has_passed():
    unpaid = rules.OrderView(ORDER, order_record(ORDER, at=NOW - SETTLE), None, None)
    moving = rules.OrderView(ORDER, order_record(ORDER, at=NOW - SETTLE + timedelta(seconds=1)), None, None)

    assert [f.kind for f in rules.completed_unpaid(unpaid, CTX)] == [Kind.COMPLETED_UNPAID]
    assert rules.completed_unpaid(moving, CTX) == []


def test_the_newest_change_on_any_side_or_in_the_projection_keeps_an_order_unsettled():
    old_order = order_record(ORDER, at=OLD)
    payment_just_changed = rules.OrderView(
        ORDER, old_order, None, payment_record(ORDER, "declined", at=RECENT)
    )
    event_just_seen = rules.OrderView(ORDER, old_order, None, None, saga={"last_event_at": RECENT})

    assert rules.completed_unpaid(payment_just_changed, CTX) == []
    assert rules.completed_unpaid(event_just_seen, CTX) == []


# --- charged_not_completed ---


@pytest.mark.parametrize("ended", ["failed", "cancelled"])
def test_a_payment_captured_for_an_ended_order_is_refunded(ended):
    (finding,) = rules.charged_not_completed(view(ended, "released", "captured"), CTX)

    assert judged(finding) == (Kind.CHARGED_NOT_COMPLETED, Severity.CRITICAL, Fix.REFUND_PAYMENT)
    assert finding.detail == f"payment of 12.00 is captured but the order is {ended}"
    assert [(e["service"], e["id"]) for e in finding.entities] == [
        ("orders", ORDER),
        ("payments", f"pay-{ORDER}"),
    ]


def test_a_captured_payment_of_an_order_that_just_failed_is_left_to_the_saga():
    assert rules.charged_not_completed(view("failed", "released", "captured", at=RECENT), CTX) == []


# --- held_for_ended_order ---


@pytest.mark.parametrize("ended", ["failed", "cancelled"])
def test_stock_held_for_an_ended_order_is_released(ended):
    (finding,) = rules.held_for_ended_order(view(ended, "held", "voided"), CTX)

    assert judged(finding) == (Kind.HELD_FOR_ENDED_ORDER, Severity.WARNING, Fix.RELEASE_RESERVATION)
    assert [e["service"] for e in finding.entities] == ["orders", "inventory"]


def test_stock_held_for_an_order_that_just_ended_is_left_to_the_saga():
    assert rules.held_for_ended_order(view("cancelled", "held", None, at=RECENT), CTX) == []


# --- reservation_vs_order (committed_not_completed, completed_not_committed) ---


@pytest.mark.parametrize(
    ("order", "reservation", "kind", "fix"),
    [
        ("failed", "committed", Kind.COMMITTED_NOT_COMPLETED, Fix.RELEASE_RESERVATION),
        ("cancelled", "committed", Kind.COMMITTED_NOT_COMPLETED, Fix.RELEASE_RESERVATION),
        ("pending", "committed", Kind.COMMITTED_NOT_COMPLETED, Fix.REDRIVE),
        ("completed", "held", Kind.COMPLETED_NOT_COMMITTED, Fix.COMMIT_RESERVATION),
        ("completed", "released", Kind.COMPLETED_NOT_COMMITTED, Fix.MANUAL),
        ("completed", None, Kind.COMPLETED_NOT_COMMITTED, Fix.MANUAL),
    ],
)
def test_a_reservation_that_disagrees_with_its_order_is_reported_with_the_fix_that_fits(
    order, reservation, kind, fix
):
    (finding,) = rules.reservation_vs_order(view(order, reservation, "captured"), CTX)

    assert judged(finding) == (kind, Severity.WARNING, fix)
    assert finding.subject == f"order {ORDER}"


def test_a_missing_reservation_is_named_as_missing():
    (finding,) = rules.reservation_vs_order(view("completed", None, "captured"), CTX)

    assert finding.detail == "order is completed but its reservation is missing"
    assert [e["service"] for e in finding.entities] == ["orders"]


@pytest.mark.parametrize(("order", "reservation"), [("failed", "committed"), ("completed", "held")])
def test_a_reservation_and_order_still_moving_are_not_compared(order, reservation):
    assert rules.reservation_vs_order(view(order, reservation, "captured", at=RECENT), CTX) == []


def test_a_reservation_without_its_order_is_not_judged():
    assert rules.reservation_vs_order(view(None, "committed", None), CTX) == []


# --- stuck_order ---


def stuck_view(age: timedelta, status: str = "pending") -> rules.OrderView:
    placed = NOW - age
    return rules.OrderView(
        ORDER,
        order_record(ORDER, status, at=placed, created_at=placed),
        reservation_record(ORDER, "held", at=placed),
        None,
    )


def test_an_order_pending_for_exactly_its_sla_is_stuck_and_failed():
    (finding,) = rules.stuck_order(stuck_view(SLA), CTX)

    assert judged(finding) == (Kind.STUCK_ORDER, Severity.WARNING, Fix.FAIL_ORDER)
    assert finding.detail == (
        "order has been pending for 300 s (SLA 300 s); reservation held, payment missing"
    )
    assert [e["service"] for e in finding.entities] == ["orders", "inventory"]


def test_an_order_pending_for_less_than_its_sla_is_not_stuck():
    assert rules.stuck_order(stuck_view(SLA - timedelta(microseconds=1)), CTX) == []


def test_the_sla_counts_from_placement_not_from_the_last_change():
    placed = NOW - SLA - timedelta(seconds=1)
    touched_just_now = rules.OrderView(
        ORDER, order_record(ORDER, "pending", at=RECENT, created_at=placed), None, None
    )

    assert [f.kind for f in rules.stuck_order(touched_just_now, CTX)] == [Kind.STUCK_ORDER]


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_an_old_order_that_ended_is_not_stuck(status):
    assert rules.stuck_order(stuck_view(timedelta(days=2), status), CTX) == []


# --- event_gap ---


def saga(last_event_at: datetime = OLD) -> dict:
    return {"order_id": ORDER, "last_event_at": last_event_at}


def gaps(*, steps, order="completed", reservation="committed", payment="captured", last_event_at=OLD):
    return rules.event_gap(view(order, reservation, payment, saga=saga(last_event_at), steps=steps), CTX)


COMPLETED_STEPS = [("orders", 1), ("inventory", 1), ("payments", 1), ("inventory", 2), ("orders", 2)]


def test_a_saga_with_every_event_has_no_gap():
    assert gaps(steps=COMPLETED_STEPS) == []


def test_a_skipped_sequence_is_a_gap_redriven_from_its_producer():
    # OrderCreated never reached the projection; OrderCompleted did.
    steps = [step for step in COMPLETED_STEPS if step != ("orders", 1)]

    (finding,) = gaps(steps=steps)

    assert judged(finding) == (Kind.EVENT_GAP, Severity.WARNING, Fix.REDRIVE)
    assert (finding.subject, finding.producer, finding.order_id) == (
        f"order {ORDER} events from orders",
        "orders",
        ORDER,
    )
    assert finding.detail == "the projection has events [2] of this order from orders; missing [1]"
    assert finding.entities == [{"service": "orders", "type": "events", "id": ORDER}]


def test_a_lost_newest_event_is_a_gap_because_the_service_went_further():
    # inventory committed (version 2) but the projection only received InventoryReserved.
    steps = [step for step in COMPLETED_STEPS if step != ("inventory", 2)]

    (finding,) = gaps(steps=steps)

    assert (finding.kind, finding.producer) == (Kind.EVENT_GAP, "inventory")
    assert finding.detail == ("the projection has events [1] of this order from inventory; missing [2]")


def test_each_producer_with_a_gap_is_reported_on_its_own():
    steps = [("orders", 2), ("inventory", 2), ("payments", 1)]

    found = gaps(steps=steps)

    assert [(f.producer, f.subject) for f in found] == [
        ("inventory", f"order {ORDER} events from inventory"),
        ("orders", f"order {ORDER} events from orders"),
    ]


@pytest.mark.parametrize("never_charged", ["voided", "pending"])
def test_a_payment_that_was_never_charged_published_nothing_and_is_no_gap(never_charged):
    # Voiding moves the payment to version 1 without an event: nothing is missing.
    steps = [("orders", 1), ("inventory", 1), ("orders", 2)]

    assert gaps(steps=steps, order="failed", reservation="rejected", payment=never_charged) == []


def test_a_gap_in_a_saga_that_just_received_an_event_is_not_reported_yet():
    assert gaps(steps=[("orders", 2)], last_event_at=RECENT) == []


def test_a_service_that_just_moved_on_is_not_a_gap_while_its_event_is_in_flight():
    # The projection last heard of the order an hour ago; orders failed it a second ago.
    stalled = rules.OrderView(
        ORDER,
        order_record(ORDER, "failed", at=NOW - timedelta(seconds=1), created_at=OLD),
        None,
        None,
        saga=saga(OLD),
        steps=[("orders", 1)],
    )

    assert rules.event_gap(stalled, CTX) == []


def test_an_order_the_projection_never_saw_has_no_gap_to_judge():
    assert rules.event_gap(view(saga=None, steps=[]), CTX) == []


def test_a_producers_only_event_lost_is_a_gap():
    # PaymentProcessed (payments version 1) never reached the projection.
    steps = [step for step in COMPLETED_STEPS if step[0] != "payments"]

    found = gaps(steps=steps)

    assert [(f.kind, f.producer) for f in found] == [(Kind.EVENT_GAP, "payments")]


# --- stock ---


def test_a_product_whose_counters_agree_is_consistent():
    assert rules.stock(product_record(stock=10, reserved=4, held=4), CTX) == []
    assert rules.stock(product_record(stock=5, reserved=5, held=5), CTX) == []
    assert rules.stock(product_record(stock=0, reserved=0, held=0), CTX) == []


def test_stock_below_zero_is_critical_and_manual():
    found = {f.kind: f for f in rules.stock(product_record("MUG", stock=-2, reserved=0), CTX)}

    finding = found[Kind.NEGATIVE_STOCK]
    assert judged(finding) == (Kind.NEGATIVE_STOCK, Severity.CRITICAL, Fix.MANUAL)
    assert (finding.subject, finding.order_id, finding.detail) == ("product MUG", "", "-2 on hand")
    assert finding.entities == [{"service": "inventory", "type": "product", "id": "MUG"}]


def test_more_reserved_than_on_hand_is_critical_and_manual():
    (finding,) = rules.stock(product_record("MUG", stock=3, reserved=5, held=5), CTX)

    assert judged(finding) == (Kind.RESERVED_ABOVE_STOCK, Severity.CRITICAL, Fix.MANUAL)
    assert finding.detail == "5 reserved but 3 on hand"


@pytest.mark.parametrize(("reserved", "held"), [(4, 3), (0, 2)])
def test_a_reserved_counter_that_drifted_from_the_held_reservations_is_recounted(reserved, held):
    (finding,) = rules.stock(product_record("MUG", stock=10, reserved=reserved, held=held), CTX)

    assert judged(finding) == (Kind.RESERVED_COUNT_MISMATCH, Severity.WARNING, Fix.RECOUNT_RESERVED)
    assert finding.subject == "product MUG"
    assert finding.detail == f"reserved counter says {reserved}, held reservations hold {held}"


def test_one_product_can_break_several_stock_rules_at_once():
    found = rules.stock(product_record("MUG", stock=-1, reserved=3, held=1), CTX)

    assert [f.kind for f in found] == [
        Kind.NEGATIVE_STOCK,
        Kind.RESERVED_ABOVE_STOCK,
        Kind.RESERVED_COUNT_MISMATCH,
    ]
