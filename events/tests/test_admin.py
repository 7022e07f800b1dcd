"""The events tables in the admin: pages render, and the dead-letter actions work."""

import pytest
from django.urls import reverse

from events.models import DeadLetter
from events.tests import support
from events.tests.support import credited, registered


def dead_letter(consumer_name: str, offset: int, status=DeadLetter.Status.DEAD, value=None, sequence=1):
    envelope = credited("x", sequence, 100)
    return DeadLetter.objects.create(
        consumer=consumer_name,
        event_id=envelope.event_id,
        event_type="TestCredited",
        aggregate_id="x",
        sequence=sequence,
        status=status,
        error="NoSuchAccount: no account x",
        attempts=3,
        topic="t",
        partition=0,
        offset=offset,
        key=b"x",
        value=envelope.to_json() if value is None else value,
    )


@pytest.mark.django_db
def test_a_dead_letter_page_shows_its_message(admin_client):
    letter = dead_letter("c", 1, value=b"<not an event>")

    response = admin_client.get(reverse("admin:events_deadletter_change", args=[letter.pk]))

    assert response.status_code == 200
    assert "&lt;not an event&gt;" in response.content.decode()


@pytest.mark.django_db
def test_ledger_tables_cannot_be_edited_by_hand(admin_client):
    assert admin_client.get(reverse("admin:events_outboxevent_add")).status_code == 403


def test_retry_from_the_admin_applies_a_fixed_dead_letter_and_releases_what_was_parked(admin_client, ledger):
    consumer = support.ledger_consumer("t")
    dead = dead_letter(consumer.name, 1, sequence=1)
    parked = dead_letter(consumer.name, 2, status=DeadLetter.Status.PARKED, sequence=2)
    support.open_account("x")  # the fix

    with registered(consumer):
        response = admin_client.post(
            reverse("admin:events_deadletter_changelist"), {"action": "retry", "_selected_action": [dead.pk]}
        )

    assert response.status_code == 302
    assert support.account("x") == (200, 2)
    assert {d.status for d in DeadLetter.objects.filter(pk__in=[dead.pk, parked.pk])} == {"retried"}
    assert set(DeadLetter.objects.values_list("resolved_by", flat=True)) == {"admin"}


def test_a_retry_that_fails_again_keeps_the_dead_letter_and_says_why(admin_client, ledger):
    consumer = support.ledger_consumer("t")
    dead = dead_letter(consumer.name, 1)  # no account: still failing

    with registered(consumer):
        response = admin_client.post(
            reverse("admin:events_deadletter_changelist"),
            {"action": "retry", "_selected_action": [dead.pk]},
            follow=True,
        )

    dead.refresh_from_db()
    assert dead.status == DeadLetter.Status.DEAD
    assert dead.attempts == 6
    assert "failed again" in response.content.decode()


def test_discard_from_the_admin_releases_what_was_parked(admin_client, ledger):
    consumer = support.ledger_consumer("t")
    dead = dead_letter(consumer.name, 1, value=b"garbage")
    dead_letter(consumer.name, 2, status=DeadLetter.Status.PARKED, sequence=2)
    support.open_account("x")

    with registered(consumer):
        admin_client.post(
            reverse("admin:events_deadletter_changelist"),
            {"action": "discard", "_selected_action": [dead.pk]},
        )

    assert support.account("x") == (100, 2)
    assert list(DeadLetter.objects.order_by("offset").values_list("status", flat=True)) == [
        "discarded",
        "retried",
    ]


@pytest.mark.parametrize("action", ["retry", "discard"])
def test_a_staff_member_who_may_only_view_can_neither_retry_nor_discard(client, viewer, ledger, action):
    consumer = support.ledger_consumer("t")
    dead = dead_letter(consumer.name, 1, sequence=1)
    support.open_account("x")  # a retry would apply it
    client.force_login(viewer)

    with registered(consumer):
        response = client.post(
            reverse("admin:events_deadletter_changelist"), {"action": action, "_selected_action": [dead.pk]}
        )

    assert response.status_code == 200  # the list again, no action taken
    dead.refresh_from_db()
    assert (dead.status, dead.resolved_by) == (DeadLetter.Status.DEAD, "")
    assert support.account("x") == (0, 0)
