"""The divergence state machine: the only way a divergence's status changes.

    open    -> auto_resolved | resolved | ignored
    ignored -> resolved                      (auto_resolved and resolved go nowhere: what the
                                              audit sees again is a new divergence)

The audit closes an open one it no longer sees (auto_resolved if its own fix was sent, resolved
otherwise); support resolves or ignores one. Every move closes the divergence and is recorded in
its audit trail with who made it. An illegal move is refused (IllegalTransition), never applied.
"""

from django.utils import timezone

from reconciliation.models import Divergence, DivergenceAction

Status = Divergence.Status

TRANSITIONS: dict[str, set[str]] = {
    Status.OPEN: {Status.AUTO_RESOLVED, Status.RESOLVED, Status.IGNORED},
    Status.IGNORED: {Status.RESOLVED},
    Status.AUTO_RESOLVED: set(),
    Status.RESOLVED: set(),
}

# Still reported by the audit: a finding of the same kind and subject updates one of these
# instead of opening another.
ACTIVE = (Status.OPEN, Status.IGNORED)


class IllegalTransition(Exception):
    def __init__(self, divergence: Divergence, to: str):
        self.divergence, self.to = divergence, to
        if TRANSITIONS[divergence.status]:
            message = f"divergence #{divergence.pk} is {divergence.status}; it cannot become {to}"
        else:
            message = f"divergence #{divergence.pk} is already {divergence.status}"
        super().__init__(message)


def transition(divergence: Divergence, to: str, *, actor: str, action: str, note: str = "") -> None:
    """Move `divergence` (locked by the caller) to `to`, close it and add `action` by `actor` to
    its audit trail."""
    if to not in TRANSITIONS[divergence.status]:
        raise IllegalTransition(divergence, to)
    divergence.status = to
    divergence.closed_at = timezone.now()
    divergence.save(update_fields=["status", "closed_at"])
    DivergenceAction.objects.create(divergence=divergence, actor=actor, action=action, outcome=note)
