import pytest
from rest_framework.test import APIClient

from config.middleware import NUL_REFUSED
from payments.models import Payment

pytestmark = pytest.mark.django_db


def test_staff_list_payments_by_order(admin_user):
    Payment.objects.create(order_id="o1", status=Payment.Status.CAPTURED, amount="3.00")
    Payment.objects.create(order_id="o2")
    client = APIClient()
    client.force_authenticate(admin_user)

    body = client.get("/api/v1/payments?order_id=o1").json()

    assert [(p["order_id"], p["status"], p["amount"]) for p in body] == [("o1", "captured", "3.00")]


def test_customers_cannot_see_payments(django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("c", password="x"))

    assert client.get("/api/v1/payments").status_code == 403


def test_an_order_id_holding_a_nul_character_is_a_400_not_a_server_error(admin_user):
    # found by Schemathesis (docs/hostile-input.md): PostgreSQL cannot compare text holding NUL
    client = APIClient()
    client.force_authenticate(admin_user)

    response = client.get("/api/v1/payments?order_id=a%00b")

    assert response.status_code == 400
    assert response.json() == {"detail": NUL_REFUSED}


def test_staff_read_payments_only_with_the_view_permission(django_user_model, viewer):
    Payment.objects.create(order_id="o1", status=Payment.Status.CAPTURED, amount="3.00")
    nobody = APIClient()
    nobody.force_authenticate(django_user_model.objects.create_user("nobody", password="x", is_staff=True))
    reader = APIClient()
    reader.force_authenticate(viewer)

    assert nobody.get("/api/v1/payments").status_code == 403
    assert [p["order_id"] for p in reader.get("/api/v1/payments").json()] == ["o1"]
