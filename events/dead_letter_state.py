"""The dead-letter state machine: the only way a dead letter's status changes.

    (new)     -> dead | parked | waiting
    dead      -> dead                              (failed again, on a retry or a redelivery)
                 | retried | discarded
    waiting   -> waiting | dead | retried | discarded
    parked    -> parked | dead | waiting | retried | discarded
    retried, discarded -> (nothing)

A closed letter stays closed: its event was applied (retried), or support gave up on it
(discarded). A redelivery of a discarded message that fails again does not reopen it, and
the consumer moves on, as support decided. processing.dead_letter() records new and failed-again
letters, dead_letters.py closes them; both ask allowed() first.
"""

from events.models import DeadLetter

Status = DeadLetter.Status

TRANSITIONS: dict[str, set[str]] = {
    Status.DEAD: {Status.DEAD, Status.RETRIED, Status.DISCARDED},
    Status.WAITING: {Status.WAITING, Status.DEAD, Status.RETRIED, Status.DISCARDED},
    Status.PARKED: {Status.PARKED, Status.DEAD, Status.WAITING, Status.RETRIED, Status.DISCARDED},
    Status.RETRIED: set(),
    Status.DISCARDED: set(),
}


class IllegalTransition(ValueError):
    def __init__(self, letter: DeadLetter, to: str):
        self.letter, self.to = letter, to
        super().__init__(f"dead letter {letter.pk} is already {letter.status}; it cannot become {to}")


def allowed(status: str, to: str) -> bool:
    return to in TRANSITIONS[status]


def close(letter: DeadLetter, to: str, *, by: str) -> None:
    """Close `letter` (retried or discarded, by `by`); it is not closed already."""
    if to not in (Status.RETRIED, Status.DISCARDED) or not allowed(letter.status, to):
        raise IllegalTransition(letter, to)
    letter.status = to
    letter.resolved_by = by
    letter.save(update_fields=["status", "resolved_by", "updated_at"])
