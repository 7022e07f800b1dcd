"""The orders admin's cancel action: support staff may take it, a staff member who may only
view may not (and changes nothing by trying)."""

import pytest

from events.models import OutboxEvent
from orders.models import Order
from tests.admin_actions import admin_action, change_page

pytestmark = pytest.mark.django_db

ORDER = {"items": [{"sku": "MUG", "quantity": 1}], "payment_token": "tok_visa"}


@pytest.fixture
def order(api, catalog):
    return Order.objects.get(order_id=api.post("/api/v1/orders", ORDER, format="json").json()["order_id"])


def cancel(client, user, order):
    return admin_action(client, user, order, "cancel")


def test_a_staff_member_who_may_only_view_cannot_cancel_an_order(client, viewer, order):
    response = cancel(client, viewer, order)

    assert response.status_code == 200  # the list again, no action taken
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert not OutboxEvent.objects.filter(event_type="OrderCancelled").exists()


def test_support_staff_cancel_an_order_from_the_admin(client, support_user, order):
    cancel(client, support_user, order)

    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert OutboxEvent.objects.filter(event_type="OrderCancelled").count() == 1


def test_an_orders_change_page_shows_its_lines_and_history_and_offers_no_save(admin_client, order):
    body = change_page(admin_client, order)

    assert "MUG" in body and "pending" in body
    assert 'name="_save"' not in body
