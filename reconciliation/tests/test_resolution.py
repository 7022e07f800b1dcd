"""Resolving divergences: each fix is exactly one command event in reconciliation's outbox, every
step is in the divergence's audit trail, and what cannot be done is refused with a reason."""

import pytest
from django.conf import settings

from events.models import OutboxEvent
from events.topics import event_topic
from reconciliation.models import Divergence, DivergenceAction, Fix, Kind, Severity
from reconciliation.services import resolution
from reconciliation.services.resolution import Refusal, ResolutionError
from reconciliation.tests.conftest import ORDER

pytestmark = pytest.mark.django_db

Action = DivergenceAction.Action
Status = Divergence.Status
SKU = "MUG"
PRODUCT = {
    "kind": Kind.RESERVED_COUNT_MISMATCH,
    "fix": Fix.RECOUNT_RESERVED,
    "order_id": "",
    "subject": f"product {SKU}",
    "entities": [{"service": "inventory", "type": "product", "id": SKU}],
    "severity": Severity.WARNING,
}
ORDER_AND_INVENTORY = [
    {"service": "orders", "type": "order", "id": ORDER},
    {"service": "inventory", "type": "reservation", "id": ORDER},
]

# fix -> (the divergence it repairs, the command sent, its key, its payload before the audit fields)
FIXES = {
    "refund": (
        {"kind": Kind.CHARGED_NOT_COMPLETED, "fix": Fix.REFUND_PAYMENT},
        "RefundPayment",
        ORDER,
        {"order_id": ORDER, "reason": Kind.CHARGED_NOT_COMPLETED.label},
    ),
    "release": (
        {"kind": Kind.HELD_FOR_ENDED_ORDER, "fix": Fix.RELEASE_RESERVATION},
        "ReleaseReservation",
        ORDER,
        {"order_id": ORDER, "reason": Kind.HELD_FOR_ENDED_ORDER.label},
    ),
    "commit": (
        {"kind": Kind.COMPLETED_NOT_COMMITTED, "fix": Fix.COMMIT_RESERVATION},
        "CommitReservation",
        ORDER,
        {"order_id": ORDER},
    ),
    "fail": (
        {"kind": Kind.STUCK_ORDER, "fix": Fix.FAIL_ORDER},
        "FailOrder",
        ORDER,
        {"order_id": ORDER, "reason": "timeout"},
    ),
    "recount": (PRODUCT, "RecountReserved", SKU, {"sku": SKU}),
    "redrive one producer": (
        {
            "kind": Kind.EVENT_GAP,
            "fix": Fix.REDRIVE,
            "subject": f"order {ORDER} events from payments",
            "entities": [{"service": "payments", "type": "events", "id": ORDER}],
        },
        "RepublishEvents",
        ORDER,
        {"aggregate_id": ORDER, "services": ["payments"]},
    ),
    "redrive the services involved": (
        {"kind": Kind.COMMITTED_NOT_COMPLETED, "fix": Fix.REDRIVE, "entities": ORDER_AND_INVENTORY},
        "RepublishEvents",
        ORDER,
        {"aggregate_id": ORDER, "services": ["inventory", "orders"]},
    ),
}


def commands() -> list[OutboxEvent]:
    return list(OutboxEvent.objects.order_by("id"))


def trail(divergence: Divergence) -> list[tuple[str, str, str]]:
    return list(divergence.actions.values_list("action", "actor", "outcome"))


def test_every_fix_but_manual_sends_a_command():
    assert {case[0]["fix"] for case in FIXES.values()} == set(Fix) - {Fix.MANUAL}


@pytest.mark.parametrize(("divergence", "event_type", "key", "payload"), FIXES.values(), ids=FIXES.keys())
def test_a_fix_is_one_command_to_the_owning_service(make_divergence, divergence, event_type, key, payload):
    diverged = make_divergence(**divergence)

    resolution.divergence_apply_fix(divergence=diverged, actor="alice")

    (command,) = commands()
    assert (command.event_type, command.aggregate_type, command.aggregate_id, command.sequence) == (
        event_type,
        "command",
        key,
        1,
    )
    assert command.topic == event_topic(settings.SERVICE_NAME)
    assert command.envelope["producer"] == "reconciliation"
    assert command.envelope["payload"] == {
        **payload,
        "divergence_id": str(diverged.pk),
        "requested_by": "alice",
    }


def test_a_fix_sent_is_recorded_and_the_divergence_stays_open_until_the_audit_confirms_it(make_divergence):
    diverged = make_divergence()

    resolution.divergence_apply_fix(divergence=diverged, actor="alice")

    diverged.refresh_from_db()
    assert diverged.status == Status.OPEN
    assert diverged.fix_requested_at is not None
    assert diverged.fix_automatic is False
    assert trail(diverged) == [
        (Action.FIX_REQUESTED, "alice", "sent RefundPayment; the next audit confirms the repair")
    ]


def test_a_fix_the_system_sends_by_itself_is_marked_automatic(make_divergence):
    diverged = resolution.divergence_apply_fix(
        divergence=make_divergence(), actor=resolution.SYSTEM, automatic=True
    )

    assert diverged.fix_automatic is True
    assert commands()[0].envelope["payload"]["requested_by"] == resolution.SYSTEM


def test_a_divergence_with_no_automatic_fix_is_refused_and_nothing_is_sent(make_divergence):
    diverged = make_divergence(kind=Kind.COMPLETED_UNPAID, fix=Fix.MANUAL)

    with pytest.raises(ResolutionError) as refused:
        resolution.divergence_apply_fix(divergence=diverged, actor="alice")

    assert refused.value.code == Refusal.NO_AUTOMATIC_FIX
    diverged.refresh_from_db()
    assert (diverged.fix_requested_at, commands(), trail(diverged)) == (None, [], [])


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.AUTO_RESOLVED, Status.IGNORED])
def test_only_an_open_divergence_is_fixed(make_divergence, status):
    diverged = make_divergence(status=status)

    with pytest.raises(ResolutionError) as refused:
        resolution.divergence_apply_fix(divergence=diverged, actor="alice")

    assert refused.value.code == Refusal.NOT_OPEN
    assert (commands(), trail(diverged)) == ([], [])


def test_a_fix_is_judged_on_the_divergence_as_stored_not_as_the_caller_holds_it(make_divergence):
    stale = make_divergence()
    Divergence.objects.filter(pk=stale.pk).update(status=Status.RESOLVED)

    with pytest.raises(ResolutionError) as refused:
        resolution.divergence_apply_fix(divergence=stale, actor="alice")

    assert refused.value.code == Refusal.NOT_OPEN
    assert commands() == []


# --- redrive ---


def test_redriving_a_divergence_asks_every_service_for_its_events_of_the_order(make_divergence):
    diverged = make_divergence(kind=Kind.COMPLETED_UNPAID, fix=Fix.MANUAL)

    resolution.divergence_redrive(divergence=diverged, actor="alice")

    (command,) = commands()
    assert (command.event_type, command.aggregate_id) == ("RepublishEvents", ORDER)
    assert command.envelope["payload"] == {
        "aggregate_id": ORDER,
        "services": ["orders", "inventory", "payments"],
        "divergence_id": str(diverged.pk),
        "requested_by": "alice",
    }
    assert trail(diverged) == [
        (Action.REDRIVE, "alice", "sent RepublishEvents to orders, inventory and payments")
    ]


def test_a_product_divergence_has_no_saga_to_redrive(make_divergence):
    diverged = make_divergence(**PRODUCT)

    with pytest.raises(ResolutionError) as refused:
        resolution.divergence_redrive(divergence=diverged, actor="alice")

    assert refused.value.code == Refusal.NOT_AN_ORDER
    assert (commands(), trail(diverged)) == ([], [])


# --- support's decisions ---


@pytest.mark.parametrize("reason", ["", "   \n"])
def test_ignoring_needs_a_reason(make_divergence, reason):
    diverged = make_divergence()

    with pytest.raises(ResolutionError) as refused:
        resolution.divergence_ignore(divergence=diverged, actor="alice", reason=reason)

    assert refused.value.code == Refusal.REASON_REQUIRED
    diverged.refresh_from_db()
    assert (diverged.status, diverged.closed_at, trail(diverged)) == (Status.OPEN, None, [])


def test_an_ignored_divergence_keeps_the_reason_in_its_trail(make_divergence):
    diverged = resolution.divergence_ignore(
        divergence=make_divergence(), actor="alice", reason="test order, refunded by hand"
    )

    diverged.refresh_from_db()
    assert diverged.status == Status.IGNORED
    assert diverged.closed_at is not None
    assert trail(diverged) == [(Action.IGNORED, "alice", "test order, refunded by hand")]


@pytest.mark.parametrize("active", [Status.OPEN, Status.IGNORED])
def test_support_marks_an_open_or_ignored_divergence_resolved(make_divergence, active):
    diverged = resolution.divergence_mark_resolved(
        divergence=make_divergence(status=active), actor="alice", note="refunded in the gateway"
    )

    diverged.refresh_from_db()
    assert diverged.status == Status.RESOLVED
    assert diverged.closed_at is not None
    assert trail(diverged) == [(Action.MARKED_RESOLVED, "alice", "refunded in the gateway")]
    assert commands() == []


@pytest.mark.parametrize("closed", [Status.RESOLVED, Status.AUTO_RESOLVED])
@pytest.mark.parametrize(
    "decide",
    [
        lambda d: resolution.divergence_mark_resolved(divergence=d, actor="alice"),
        lambda d: resolution.divergence_ignore(divergence=d, actor="alice", reason="noise"),
    ],
    ids=["mark_resolved", "ignore"],
)
def test_a_closed_divergence_cannot_be_closed_again(make_divergence, closed, decide):
    diverged = make_divergence(status=closed)

    with pytest.raises(ResolutionError) as refused:
        decide(diverged)

    assert refused.value.code == Refusal.ILLEGAL_TRANSITION
    assert trail(diverged) == []


# --- sagas, from the projection ---


def test_redriving_a_saga_asks_every_service_for_its_events():
    resolution.saga_redrive(order_id=ORDER, actor="alice")

    (command,) = commands()
    assert (command.event_type, command.aggregate_id) == ("RepublishEvents", ORDER)
    assert command.envelope["payload"] == {
        "aggregate_id": ORDER,
        "services": ["orders", "inventory", "payments"],
        "divergence_id": "",
        "requested_by": "alice",
    }


def test_failing_a_saga_asks_orders_to_time_the_order_out():
    resolution.saga_fail(order_id=ORDER, actor="alice", divergence_id="42")

    (command,) = commands()
    assert (command.event_type, command.aggregate_id) == ("FailOrder", ORDER)
    assert command.envelope["payload"] == {
        "order_id": ORDER,
        "reason": "timeout",
        "divergence_id": "42",
        "requested_by": "alice",
    }


# Outside a test's transaction, as the admin's actions call them.


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_fixing_and_deciding_work_outside_any_transaction(make_divergence):
    fixed, resolved = make_divergence(), make_divergence(order_id="other")

    resolution.divergence_apply_fix(divergence=fixed, actor="alice")
    resolution.divergence_mark_resolved(divergence=resolved, actor="alice")

    assert [c.event_type for c in commands()] == ["RefundPayment"]
    assert Divergence.objects.get(pk=resolved.pk).status == Status.RESOLVED


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("act", [resolution.saga_redrive, resolution.saga_fail], ids=lambda f: f.__name__)
def test_saga_commands_work_outside_any_transaction(act):
    act(order_id=ORDER, actor="alice")

    assert len(commands()) == 1


def test_an_ignored_divergence_cannot_be_ignored_again(make_divergence):
    diverged = make_divergence(status=Status.IGNORED)

    with pytest.raises(ResolutionError) as refused:
        resolution.divergence_ignore(divergence=diverged, actor="bob", reason="again")

    assert refused.value.code == Refusal.ILLEGAL_TRANSITION
    assert trail(diverged) == []


# --- the audit's own closing ---


def test_the_audit_closes_an_open_divergence_it_no_longer_sees(make_divergence):
    diverged = make_divergence()

    assert resolution.divergence_confirm_gone(divergence_id=diverged.pk) is True

    diverged.refresh_from_db()
    assert (diverged.status, diverged.closed_at is not None) == (Status.RESOLVED, True)
    assert trail(diverged) == [(Action.CONFIRMED_GONE, resolution.SYSTEM, "the audit no longer sees it")]


@pytest.mark.parametrize("decided", [Status.IGNORED, Status.RESOLVED])
def test_the_audit_leaves_a_divergence_support_decided_on_since_it_was_read(make_divergence, decided):
    diverged = make_divergence()
    Divergence.objects.filter(pk=diverged.pk).update(status=decided)  # support, between two lines

    assert resolution.divergence_confirm_gone(divergence_id=diverged.pk) is False

    diverged.refresh_from_db()
    assert diverged.status == decided
    assert trail(diverged) == []
