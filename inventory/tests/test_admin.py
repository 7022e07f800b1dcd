"""The inventory admin's release action asks its own permission (release_reservation): support
staff have it, a staff member who may only view does not (and releases nothing by trying)."""

import pytest

from inventory.models import Product, Reservation
from inventory.tests.test_services import cause, commit, line, product, reserve
from tests.admin_actions import admin_action, change_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def held():
    product("A", stock=5)
    reserve(order_id="o1", lines=[line("A", 2)], caused_by=cause("o1"))
    return Reservation.objects.get()


def release(client, user, reservation, **kwargs):
    return admin_action(client, user, reservation, "release", **kwargs)


def test_a_staff_member_who_may_only_view_cannot_release_a_reservation(client, viewer, held):
    response = release(client, viewer, held)

    assert response.status_code == 200  # the list again, no action taken
    held.refresh_from_db()
    assert held.status == Reservation.Status.HELD
    assert Product.objects.get().reserved_quantity == 2


def test_support_staff_release_a_reservation_from_the_admin(client, support_user, held):
    release(client, support_user, held)

    held.refresh_from_db()
    assert held.status == Reservation.Status.RELEASED
    assert Product.objects.get().reserved_quantity == 0


def test_a_committed_reservation_is_not_released_from_the_admin(client, support_user, held):
    # given the order completed: its units shipped
    commit(order_id="o1", caused_by=cause("o1"))

    response = release(client, support_user, held, follow=True)

    held.refresh_from_db()
    assert held.status == Reservation.Status.COMMITTED
    assert (Product.objects.get().stock_quantity, Product.objects.get().reserved_quantity) == (3, 0)
    assert "only a held one can be released" in response.content.decode()


def test_a_reservations_change_page_shows_it_and_offers_no_save(admin_client, held):
    body = change_page(admin_client, held)

    assert "o1" in body and "held" in body
    assert 'name="_save"' not in body


def test_a_products_change_page_shows_its_movements(admin_client, held):
    body = change_page(admin_client, Product.objects.get(sku="A"))

    assert "reserve" in body and "o1" in body  # the hold, in the movements inline
