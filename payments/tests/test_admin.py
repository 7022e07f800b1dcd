"""The payments admin's refund action asks its own permission (refund_payment): support staff
have it, a staff member who may only view does not (and refunds nothing by trying); a refund the
gateway has not answered says so."""

import pytest
from django.contrib.auth.models import Permission

from events.models import OutboxEvent
from payments.models import Payment
from payments.tests.test_services import order_created, stock_held
from tests.admin_actions import admin_action, change_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def captured(committed, order_id):
    committed(order_created, order_id)
    committed(stock_held, order_id)
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.CAPTURED
    return payment


def refund(client, user, payment, **kwargs):
    return admin_action(client, user, payment, "refund", **kwargs)


def test_a_staff_member_who_may_only_view_cannot_refund(client, viewer, captured, card_gateway):
    response = refund(client, viewer, captured)

    assert response.status_code == 200  # the list again, no action taken
    captured.refresh_from_db()
    assert captured.status == Payment.Status.CAPTURED
    assert card_gateway.net(captured.order_id) == captured.amount
    assert not OutboxEvent.objects.filter(event_type="PaymentRefunded").exists()


def test_a_staff_member_who_may_change_payments_still_cannot_refund(client, viewer, captured):
    # "change" is not "refund": moving money is its own permission
    viewer.user_permissions.add(Permission.objects.get(codename="change_payment"))

    refund(client, viewer, captured)

    captured.refresh_from_db()
    assert captured.status == Payment.Status.CAPTURED


def test_support_staff_refund_a_captured_payment_from_the_admin(
    client, support_user, captured, card_gateway, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = refund(client, support_user, captured, follow=True)

    captured.refresh_from_db()
    assert captured.status == Payment.Status.REFUNDED
    assert "refunded" in response.content.decode()
    assert card_gateway.net(captured.order_id) == 0
    assert OutboxEvent.objects.filter(event_type="PaymentRefunded").count() == 1


def test_a_refund_the_gateway_did_not_answer_is_reported_as_pending(
    client, support_user, captured, card_gateway, django_capture_on_commit_callbacks
):
    card_gateway.faults(error_rate=1.0)

    with django_capture_on_commit_callbacks(execute=True):
        response = refund(client, support_user, captured, follow=True)

    captured.refresh_from_db()
    assert captured.status == Payment.Status.REFUNDING
    assert "the gateway has not answered yet" in response.content.decode()
    assert card_gateway.net(captured.order_id) == captured.amount


def test_a_payments_change_page_shows_it_and_offers_no_save(admin_client, captured):
    body = change_page(admin_client, captured)

    assert captured.order_id in body and "captured" in body
    assert 'name="_save"' not in body
