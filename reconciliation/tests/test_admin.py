"""The support console's actions, taken through the admin's change lists as support staff and as a
staff member who may only view: what each sends, records and says."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from events.models import OutboxEvent
from reconciliation.models import Divergence, DivergenceAction, OrderSaga
from reconciliation.services import resolution
from reconciliation.tests.conftest import ORDER
from tests.admin_actions import admin_action, change_page

pytestmark = pytest.mark.django_db

Status = Divergence.Status


def saga(order_status: str) -> OrderSaga:
    return OrderSaga.objects.create(order_id=ORDER, order_status=order_status, last_event_at=timezone.now())


def commands() -> list[tuple[str, str]]:
    return list(OutboxEvent.objects.values_list("event_type", "aggregate_id"))


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_support_fails_a_pending_saga_and_its_order_is_sent_failorder(client, support_user):
    response = admin_action(client, support_user, saga("pending"), "fail_and_compensate", follow=True)

    assert commands() == [("FailOrder", ORDER)]
    assert said(response) == [f"order {ORDER}: fail requested"]


@pytest.mark.parametrize("order_status", ["completed", "cancelled", ""])
def test_failing_a_saga_whose_order_is_not_pending_sends_nothing_and_says_why(
    client, support_user, order_status
):
    response = admin_action(client, support_user, saga(order_status), "fail_and_compensate", follow=True)

    assert commands() == []
    assert said(response) == [
        f"order {ORDER} is {order_status or 'unknown'}; only a pending order is failed; left alone"
    ]


def test_the_rule_for_a_pending_order_is_the_services_not_only_the_admins():
    with pytest.raises(resolution.ResolutionError) as refused:
        resolution.saga_fail_by_support(saga=saga("completed"), actor="alice")

    assert refused.value.code == resolution.Refusal.NOT_PENDING
    assert commands() == []


def test_support_redrives_a_saga_from_its_change_list(client, support_user):
    admin_action(client, support_user, saga("pending"), "redrive")

    assert commands() == [("RepublishEvents", ORDER)]


@pytest.mark.parametrize("action", ["redrive", "fail_and_compensate"])
def test_a_viewer_cannot_take_a_saga_action(client, viewer, action):
    response = admin_action(client, viewer, saga("pending"), action)

    assert response.status_code == 200  # the list again, no action taken
    assert commands() == []


def test_support_applies_a_divergences_suggested_fix(client, support_user, make_divergence):
    diverged = make_divergence()

    response = admin_action(client, support_user, diverged, "apply_suggested_fix", follow=True)

    assert commands() == [("RefundPayment", ORDER)]
    assert said(response) == [f"divergence #{diverged.pk}: fix sent; the next audit confirms it"]
    diverged.refresh_from_db()
    assert (diverged.fix_requested_at is not None, diverged.fix_automatic) == (True, False)


def test_support_marks_a_divergence_resolved_and_the_trail_names_them(client, support_user, make_divergence):
    diverged = make_divergence()

    admin_action(client, support_user, diverged, "mark_resolved")

    diverged.refresh_from_db()
    assert diverged.status == Status.RESOLVED
    assert list(diverged.actions.values_list("action", "actor")) == [
        (DivergenceAction.Action.MARKED_RESOLVED, support_user.username)
    ]


def test_ignoring_asks_for_a_reason_first_then_keeps_it(client, support_user, make_divergence):
    diverged = make_divergence()

    asked = admin_action(client, support_user, diverged, "ignore_with_reason")

    assert asked.status_code == 200
    assert "Ignore divergences" in asked.content.decode()
    diverged.refresh_from_db()
    assert diverged.status == Status.OPEN

    admin_action(client, support_user, diverged, "ignore_with_reason", data={"reason": "test order"})

    diverged.refresh_from_db()
    assert diverged.status == Status.IGNORED
    assert diverged.actions.get().outcome == "test order"


def test_a_refused_action_is_said_and_changes_nothing(client, support_user, make_divergence):
    diverged = make_divergence(status=Status.RESOLVED)

    response = admin_action(client, support_user, diverged, "mark_resolved", follow=True)

    assert said(response) == [f"divergence #{diverged.pk} is already resolved"]
    assert diverged.actions.count() == 0


@pytest.mark.parametrize(
    "action", ["apply_suggested_fix", "redrive_saga", "mark_resolved", "ignore_with_reason"]
)
def test_a_viewer_cannot_take_a_divergence_action(client, viewer, make_divergence, action):
    diverged = make_divergence()

    admin_action(client, viewer, diverged, action, data={"reason": "noise"})

    diverged.refresh_from_db()
    assert (diverged.status, diverged.fix_requested_at, commands()) == (Status.OPEN, None, [])


def test_a_divergences_change_page_shows_its_trail_and_offers_no_save(admin_client, make_divergence):
    diverged = make_divergence()
    resolution.divergence_apply_fix(divergence=diverged, actor="alice")

    body = change_page(admin_client, diverged)

    assert "Audit trail" in body and "sent RefundPayment" in body
    assert 'name="_save"' not in body


def test_a_sagas_change_page_links_to_the_orders_divergences(admin_client):
    assert f"?q={ORDER}" in change_page(admin_client, saga("pending"))


def test_a_divergences_page_offers_its_actions_only_to_who_may_take_them(
    client, viewer, support_user, make_divergence
):
    url = reverse("admin:reconciliation_divergence_change", args=[make_divergence().pk])

    client.force_login(viewer)
    assert "divergence-actions" not in client.get(url).content.decode()
    client.force_login(support_user)
    assert "apply_suggested_fix" in client.get(url).content.decode()


def test_an_ignored_divergences_page_offers_only_to_mark_it_resolved(admin_client, make_divergence):
    url = reverse("admin:reconciliation_divergence_change", args=[make_divergence(status=Status.IGNORED).pk])

    offered = re.findall(r'<option value="(\w+)"', admin_client.get(url).content.decode())

    assert offered == ["mark_resolved"]


@pytest.fixture
def changer(django_user_model):
    """A staff member who may view and change divergences and sagas, and nothing that moves money."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("changer", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_divergence", "change_divergence", "view_ordersaga", "change_ordersaga"]
        )
    )
    return user


def test_moving_money_asks_its_own_permission_not_change(client, changer, make_divergence):
    diverged = make_divergence()

    admin_action(client, changer, diverged, "apply_suggested_fix")
    admin_action(client, changer, saga("pending"), "fail_and_compensate")

    diverged.refresh_from_db()
    assert (diverged.status, diverged.fix_requested_at, commands()) == (Status.OPEN, None, [])
    # and the divergence's page does not offer the fix, while the other actions stay
    client.force_login(changer)
    page = client.get(reverse("admin:reconciliation_divergence_change", args=[diverged.pk])).content.decode()
    assert "apply_suggested_fix" not in page and "redrive_saga" in page
