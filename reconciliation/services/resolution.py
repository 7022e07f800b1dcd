"""Resolving divergences: sending the owning service the command that repairs its data, and the
support staff's own decisions. Every step is recorded in the divergence's audit trail.

Reconciliation never writes another service's database. A fix is a command event through the
outbox (events/contracts/reconciliation.py); the divergence stays open until the next audit
confirms the repair (services/sweep.py closes it).
"""

from django.db import transaction
from django.utils import timezone

from events.publishing import publish
from reconciliation.models import Divergence, DivergenceAction, Fix

SYSTEM = "reconciliation (automatic)"
ACTIVE = (Divergence.Status.OPEN, Divergence.Status.IGNORED)


class ResolutionError(Exception):
    """The action cannot be taken on this divergence; the message says why."""


def divergence_apply_fix(*, divergence: Divergence, actor: str, automatic: bool = False) -> Divergence:
    """Send the command that carries out the divergence's suggested fix."""
    with transaction.atomic():
        divergence = Divergence.objects.select_for_update().get(pk=divergence.pk)
        if divergence.status != Divergence.Status.OPEN:
            raise ResolutionError(
                f"divergence #{divergence.pk} is {divergence.status}; only open ones are fixed"
            )
        if divergence.suggested_fix == Fix.MANUAL:
            raise ResolutionError(
                f"divergence #{divergence.pk} has no automatic fix: investigate, repair it in the owning "
                f"service, then mark it resolved"
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
            f"divergence #{divergence.pk} is not about an order; there is no saga to re-drive"
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
        raise ResolutionError("say why it is ignored: the reason is kept in its audit trail")
    return _close(divergence, actor, Divergence.Status.IGNORED, DivergenceAction.Action.IGNORED, reason)


def saga_redrive(*, order_id: str, actor: str, divergence_id: str = "") -> None:
    """Every service sends its stored events of the order again; consumers apply only what they
    missed, so a stalled saga moves on from where it stopped."""
    _command(
        "RepublishEvents",
        order_id,
        {"aggregate_id": order_id, "services": ["orders", "inventory", "payments"]},
        actor,
        divergence_id,
    )


def saga_fail(*, order_id: str, actor: str, divergence_id: str = "") -> None:
    """Fail the pending order; inventory and payments compensate on its OrderFailed."""
    _command("FailOrder", order_id, {"order_id": order_id, "reason": "timeout"}, actor, divergence_id)


def _close(divergence: Divergence, actor: str, status: str, action: str, note: str) -> Divergence:
    with transaction.atomic():
        divergence = Divergence.objects.select_for_update().get(pk=divergence.pk)
        if divergence.status not in ACTIVE:
            raise ResolutionError(f"divergence #{divergence.pk} is already {divergence.status}")
        divergence.status = status
        divergence.closed_at = timezone.now()
        divergence.save(update_fields=["status", "closed_at"])
        DivergenceAction.objects.create(divergence=divergence, actor=actor, action=action, outcome=note)
    return divergence


def _send_fix(divergence: Divergence, actor: str) -> str:
    order_id, reason = divergence.order_id, divergence.get_kind_display()
    fix = divergence.suggested_fix
    if fix == Fix.REFUND_PAYMENT:
        return _command(
            "RefundPayment", order_id, {"order_id": order_id, "reason": reason}, actor, divergence
        )
    if fix == Fix.RELEASE_RESERVATION:
        return _command(
            "ReleaseReservation", order_id, {"order_id": order_id, "reason": reason}, actor, divergence
        )
    if fix == Fix.COMMIT_RESERVATION:
        return _command("CommitReservation", order_id, {"order_id": order_id}, actor, divergence)
    if fix == Fix.FAIL_ORDER:
        return _command("FailOrder", order_id, {"order_id": order_id, "reason": "timeout"}, actor, divergence)
    if fix == Fix.RECOUNT_RESERVED:
        sku = divergence.entities[0]["id"]
        return _command("RecountReserved", sku, {"sku": sku}, actor, divergence)
    if fix == Fix.REDRIVE:
        services = sorted({e["service"] for e in divergence.entities} & {"orders", "inventory", "payments"})
        payload = {"aggregate_id": order_id, "services": services or ["orders", "inventory", "payments"]}
        return _command("RepublishEvents", order_id, payload, actor, divergence)
    raise ResolutionError(f"unknown fix {fix!r}")


def _command(event_type: str, key: str, payload: dict, actor: str, divergence) -> str:
    divergence_id = str(divergence.pk) if isinstance(divergence, Divergence) else divergence
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
