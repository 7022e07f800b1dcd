"""Resolving divergences: sending the owning service the command that repairs its data, and the
support staff's own decisions. Every step is recorded in the divergence's audit trail.

Reconciliation never writes another service's database. A fix is a command event through the
outbox (events/contracts/reconciliation.py); the divergence stays open until the next audit
confirms the repair (services/sweep.py closes it).
"""

import enum

from django.db import transaction
from django.utils import timezone

from events.publishing import publish
from events.topics import SAGA_SERVICES
from reconciliation import state
from reconciliation.models import Divergence, DivergenceAction, Fix, OrderSaga

SYSTEM = "reconciliation (automatic)"


class Refusal(enum.StrEnum):
    NOT_OPEN = "not_open"
    NO_AUTOMATIC_FIX = "no_automatic_fix"
    NOT_AN_ORDER = "not_an_order"
    REASON_REQUIRED = "reason_required"
    ILLEGAL_TRANSITION = "illegal_transition"
    UNKNOWN_FIX = "unknown_fix"
    NOT_PENDING = "not_pending"


class ResolutionError(Exception):
    """The action cannot be taken on this divergence: `code` (a Refusal) says which rule refused
    it, the message says why to a person."""

    def __init__(self, code: Refusal, message: str):
        self.code = code
        super().__init__(message)


def divergence_apply_fix(*, divergence: Divergence, actor: str, automatic: bool = False) -> Divergence:
    """Send the command that carries out the divergence's suggested fix."""
    with transaction.atomic():
        divergence = Divergence.objects.select_for_update().get(pk=divergence.pk)
        if divergence.status != Divergence.Status.OPEN:
            raise ResolutionError(
                Refusal.NOT_OPEN,
                f"divergence #{divergence.pk} is {divergence.status}; only open ones are fixed",
            )
        if divergence.suggested_fix == Fix.MANUAL:
            raise ResolutionError(
                Refusal.NO_AUTOMATIC_FIX,
                f"divergence #{divergence.pk} has no automatic fix: investigate, repair it in the owning "
                f"service, then mark it resolved",
            )
        command = _send_fix(divergence, actor)
        divergence.fix_requested_at = timezone.now()
        divergence.fix_automatic = automatic
        divergence.save(update_fields=["fix_requested_at", "fix_automatic"])
        DivergenceAction.objects.create(
            divergence=divergence,
            actor=actor,
            action=DivergenceAction.Action.FIX_REQUESTED,
            outcome=f"sent {command}; the next audit confirms the repair",
        )
    return divergence


def divergence_redrive(*, divergence: Divergence, actor: str) -> Divergence:
    """Re-drive the saga of the divergence's order: every service sends its events of it again."""
    if not divergence.order_id:
        raise ResolutionError(
            Refusal.NOT_AN_ORDER,
            f"divergence #{divergence.pk} is not about an order; there is no saga to re-drive",
        )
    with transaction.atomic():
        saga_redrive(order_id=divergence.order_id, actor=actor, divergence_id=str(divergence.pk))
        DivergenceAction.objects.create(
            divergence=divergence,
            actor=actor,
            action=DivergenceAction.Action.REDRIVE,
            outcome="sent RepublishEvents to orders, inventory and payments",
        )
    return divergence


def divergence_mark_resolved(*, divergence: Divergence, actor: str, note: str = "") -> Divergence:
    """Support's judgement that it is resolved (if the audit still sees it, it opens again)."""
    return _close(
        divergence, actor, Divergence.Status.RESOLVED, DivergenceAction.Action.MARKED_RESOLVED, note
    )


def divergence_ignore(*, divergence: Divergence, actor: str, reason: str) -> Divergence:
    """Stop reporting it: the audit keeps seeing it but never reopens it or alerts on it."""
    if not reason.strip():
        raise ResolutionError(
            Refusal.REASON_REQUIRED, "say why it is ignored: the reason is kept in its audit trail"
        )
    return _close(divergence, actor, Divergence.Status.IGNORED, DivergenceAction.Action.IGNORED, reason)


def saga_redrive(*, order_id: str, actor: str, divergence_id: str = "") -> None:
    """Every service sends its stored events of the order again; consumers apply only what they
    missed, so a stalled saga moves on from where it stopped."""
    _command(
        "RepublishEvents",
        order_id,
        {"aggregate_id": order_id, "services": list(SAGA_SERVICES)},
        actor,
        divergence_id,
    )


def saga_fail(*, order_id: str, actor: str, divergence_id: str = "") -> None:
    """Fail the pending order; inventory and payments compensate on its OrderFailed."""
    _command("FailOrder", order_id, {"order_id": order_id, "reason": "timeout"}, actor, divergence_id)


def saga_fail_by_support(*, saga: OrderSaga, actor: str) -> None:
    """Support's fail-and-compensate of a saga: only for an order the projection holds pending (a
    finished one is left alone; orders refuses it anyway)."""
    if saga.order_status != "pending":
        raise ResolutionError(
            Refusal.NOT_PENDING,
            f"order {saga.order_id} is {saga.order_status or 'unknown'}; only a pending order is failed",
        )
    saga_fail(order_id=saga.order_id, actor=actor)


def _close(divergence: Divergence, actor: str, status: str, action: str, note: str) -> Divergence:
    with transaction.atomic():
        divergence = Divergence.objects.select_for_update().get(pk=divergence.pk)
        try:
            state.transition(divergence, status, actor=actor, action=action, note=note)
        except state.IllegalTransition as exc:
            raise ResolutionError(Refusal.ILLEGAL_TRANSITION, str(exc)) from exc
    return divergence


def divergence_confirm_gone(*, divergence_id: int) -> bool:
    """The audit no longer sees an open divergence: auto-resolved if its own fix was sent,
    resolved otherwise. Judged on the row as stored, under its lock: one support closed or
    ignored in the meantime stays as they left it. Whether it closed."""
    with transaction.atomic():
        divergence = Divergence.objects.select_for_update().filter(pk=divergence_id).first()
        if divergence is None or divergence.status != Divergence.Status.OPEN:
            return False
        fixed_by_system = divergence.fix_requested_at is not None and divergence.fix_automatic
        state.transition(
            divergence,
            Divergence.Status.AUTO_RESOLVED if fixed_by_system else Divergence.Status.RESOLVED,
            actor=SYSTEM,
            action=DivergenceAction.Action.CONFIRMED_GONE,
            note="the audit no longer sees it" + (" after the fix" if divergence.fix_requested_at else ""),
        )
    return True


def _send_fix(divergence: Divergence, actor: str) -> str:
    order_id, reason = divergence.order_id, divergence.get_kind_display()
    divergence_id = str(divergence.pk)
    fix = divergence.suggested_fix
    if fix == Fix.REFUND_PAYMENT:
        return _command(
            "RefundPayment", order_id, {"order_id": order_id, "reason": reason}, actor, divergence_id
        )
    if fix == Fix.RELEASE_RESERVATION:
        return _command(
            "ReleaseReservation", order_id, {"order_id": order_id, "reason": reason}, actor, divergence_id
        )
    if fix == Fix.COMMIT_RESERVATION:
        return _command("CommitReservation", order_id, {"order_id": order_id}, actor, divergence_id)
    if fix == Fix.FAIL_ORDER:
        saga_fail(order_id=order_id, actor=actor, divergence_id=divergence_id)
        return "FailOrder"
    if fix == Fix.RECOUNT_RESERVED:
        sku = divergence.entities[0]["id"]
        return _command("RecountReserved", sku, {"sku": sku}, actor, divergence_id)
    if fix == Fix.REDRIVE:
        services = sorted({e["service"] for e in divergence.entities} & set(SAGA_SERVICES))
        payload = {"aggregate_id": order_id, "services": services or list(SAGA_SERVICES)}
        return _command("RepublishEvents", order_id, payload, actor, divergence_id)
    raise ResolutionError(Refusal.UNKNOWN_FIX, f"unknown fix {fix!r}")


def _command(event_type: str, key: str, payload: dict, actor: str, divergence_id: str) -> str:
    with transaction.atomic():  # the outbox row: in the caller's transaction, or its own
        publish(
            event_type,
            aggregate_type="command",
            aggregate_id=key,
            # Commands are not versions of an aggregate; each is its own.
            sequence=1,
            payload={**payload, "divergence_id": divergence_id, "requested_by": actor},
            correlation_id=key,
        )
    return event_type
