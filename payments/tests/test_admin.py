"""The payments admin's refund action asks its own permission (refund_payment): support staff
have it, a staff member who may only view does not (and refunds nothing by trying)."""

import pytest
from django.contrib.auth.models import Permission

from events.models import OutboxEvent
from payments.models import GatewayCharge, Payment
from payments.tests.test_services import order_created, stock_held
from tests.admin_actions import admin_action

pytestmark = pytest.mark.django_db


@pytest.fixture
def captured():
    order_created()
    stock_held()
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.CAPTURED
    return payment


def refund(client, user, payment):
    return admin_action(client, user, payment, "refund")


def test_a_staff_member_who_may_only_view_cannot_refund(client, viewer, captured):
    response = refund(client, viewer, captured)

    assert response.status_code == 200  # the list again, no action taken
    captured.refresh_from_db()
    assert captured.status == Payment.Status.CAPTURED
    assert not GatewayCharge.objects.get().refunded
    assert not OutboxEvent.objects.filter(event_type="PaymentRefunded").exists()


def test_a_staff_member_who_may_change_payments_still_cannot_refund(client, viewer, captured):
    # "change" is not "refund": moving money is its own permission
    viewer.user_permissions.add(Permission.objects.get(codename="change_payment"))

    refund(client, viewer, captured)

    captured.refresh_from_db()
    assert captured.status == Payment.Status.CAPTURED


def test_support_staff_refund_a_captured_payment_from_the_admin(client, support_user, captured):
    refund(client, support_user, captured)

    captured.refresh_from_db()
    assert captured.status == Payment.Status.REFUNDED
    assert GatewayCharge.objects.get().refunded
    assert OutboxEvent.objects.filter(event_type="PaymentRefunded").count() == 1
