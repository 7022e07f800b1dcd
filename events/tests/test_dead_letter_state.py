"""The dead-letter state machine (events/dead_letter_state.py): a closed letter stays closed,
whoever or whatever touches it next."""

import pytest

from events import dead_letter_state, processing
from events.dead_letters import NotRetryable, dead_letter_discard, dead_letter_retry
from events.models import DeadLetter
from events.tests import support
from events.tests.support import registered
from events.tests.test_admin import dead_letter

Status = DeadLetter.Status


def message_of(letter: DeadLetter) -> processing.Message:
    key, value = bytes(letter.key), bytes(letter.value)
    return processing.Message(letter.topic, letter.partition, letter.offset, key, value)


@pytest.mark.parametrize("closed", [Status.DISCARDED, Status.RETRIED])
def test_a_closed_letter_whose_message_fails_again_is_not_reopened(ledger, closed):
    consumer = support.ledger_consumer("t")
    letter = dead_letter(consumer.name, 1, status=closed)

    processing.dead_letter(consumer, message_of(letter), Status.DEAD, "redelivered, failed again", 1)

    letter.refresh_from_db()
    assert (letter.status, letter.error) == (closed, "NoSuchAccount: no account x")
    assert DeadLetter.objects.count() == 1


def test_a_dead_letter_that_fails_again_takes_the_new_reason(ledger):
    consumer = support.ledger_consumer("t")
    letter = dead_letter(consumer.name, 1, status=Status.PARKED)

    processing.dead_letter(consumer, message_of(letter), Status.DEAD, "ValueError: worse", 3)

    letter.refresh_from_db()
    assert (letter.status, letter.error, letter.attempts) == (Status.DEAD, "ValueError: worse", 3)


def test_a_letter_discarded_between_being_read_and_retried_is_not_retried(ledger):
    consumer = support.ledger_consumer("t")
    letter = dead_letter(consumer.name, 1)
    support.open_account("x")
    DeadLetter.objects.filter(pk=letter.pk).update(status=Status.DISCARDED)  # another person, meanwhile

    with registered(consumer), pytest.raises(NotRetryable) as refused:
        dead_letter_retry(letter, by="alice")

    assert refused.value.code == NotRetryable.CLOSED
    assert support.account("x") == (0, 0)  # the event was not applied after all
    letter.refresh_from_db()
    assert letter.status == Status.DISCARDED


def test_a_letter_retried_between_being_read_and_discarded_stays_retried(ledger):
    consumer = support.ledger_consumer("t")
    letter = dead_letter(consumer.name, 1)
    DeadLetter.objects.filter(pk=letter.pk).update(status=Status.RETRIED)

    with registered(consumer), pytest.raises(NotRetryable) as refused:
        dead_letter_discard(letter, by="alice")

    assert refused.value.code == NotRetryable.CLOSED
    letter.refresh_from_db()
    assert (letter.status, letter.resolved_by) == (Status.RETRIED, "")


@pytest.mark.parametrize("status", list(Status))
def test_every_status_has_its_row_in_the_table(status):
    assert status in dead_letter_state.TRANSITIONS
