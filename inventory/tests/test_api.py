import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from config.middleware import NUL_REFUSED
from inventory.api.v1.views import SKU
from inventory.tests.test_services import cause, line, reserve

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def test_put_creates_then_updates_a_product(staff):
    created = staff.put(
        "/api/v1/products/SKU-1", {"name": "Mug", "price": "9.50", "stock_quantity": 4}, format="json"
    )
    updated = staff.put(
        "/api/v1/products/SKU-1", {"name": "Mug", "price": "8.00", "stock_quantity": 6}, format="json"
    )

    assert created.status_code == 201
    assert updated.status_code == 200
    assert staff.get("/api/v1/products/SKU-1").json() == {
        "sku": "SKU-1",
        "name": "Mug",
        "price": "8.00",
        "stock_quantity": 6,
        "reserved": 0,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Mug", "price": "-1", "stock_quantity": 1}, "price"),
        ({"name": "Mug", "price": "1", "stock_quantity": -1}, "stock_quantity"),
        ({"name": "Mug", "price": "abc", "stock_quantity": 1}, "price"),
        ({"price": "1", "stock_quantity": 1}, "name"),
    ],
)
def test_bad_product_data_is_refused_field_by_field(staff, body, field):
    response = staff.put("/api/v1/products/SKU-1", body, format="json")

    assert response.status_code == 400
    assert field in response.json()


def test_an_unknown_product_is_404_with_its_name(staff):
    response = staff.get("/api/v1/products/NOPE")

    assert response.status_code == 404
    assert "NOPE" in response.json()["detail"]


def test_only_staff_may_use_the_inventory_api(django_user_model):
    client = APIClient()
    assert client.get("/api/v1/products").status_code == 401
    client.force_authenticate(django_user_model.objects.create_user("customer", password="x"))
    assert client.get("/api/v1/products").status_code == 403


def test_a_sku_holding_a_nul_character_is_a_400_not_a_server_error(staff):
    # found by Schemathesis (docs/hostile-input.md): PostgreSQL cannot compare text holding NUL
    response = staff.get("/api/v1/products/MUG%00")

    assert response.status_code == 400
    assert response.json() == {"detail": NUL_REFUSED}


def test_the_schema_documents_what_a_sku_may_hold(staff):
    paths = staff.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]

    for operation in paths["/api/v1/products/{sku}"].values():
        (sku,) = [p for p in operation["parameters"] if p["name"] == "sku"]
        assert sku["schema"]["pattern"] == SKU.pattern


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


PRODUCT = {"name": "Mug", "price": "9.50", "stock_quantity": 4}


def test_a_staff_member_who_may_only_view_reads_products_but_changes_none(viewer, staff):
    staff.put("/api/v1/products/SKU-1", PRODUCT, format="json")
    client = as_user(viewer)

    assert client.get("/api/v1/products").status_code == 200
    assert client.get("/api/v1/products/SKU-1").status_code == 200
    refused = client.put("/api/v1/products/SKU-1", {**PRODUCT, "stock_quantity": 0}, format="json")
    assert refused.status_code == 403
    assert client.put("/api/v1/products/SKU-2", PRODUCT, format="json").status_code == 403
    assert [p["sku"] for p in staff.get("/api/v1/products").json()] == ["SKU-1"]
    assert staff.get("/api/v1/products/SKU-1").json()["stock_quantity"] == 4


def test_support_staff_do_not_edit_the_catalog(support_user):
    assert as_user(support_user).put("/api/v1/products/SKU-1", PRODUCT, format="json").status_code == 403


def test_a_staff_member_who_may_add_and_change_products_edits_the_catalog(viewer):
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=["add_product", "change_product"]))

    assert as_user(viewer).put("/api/v1/products/SKU-1", PRODUCT, format="json").status_code == 201


def test_stock_set_below_what_orders_hold_is_a_409_with_its_code_and_changes_nothing(staff):
    staff.put("/api/v1/products/SKU-1", {"name": "Mug", "price": "9.50", "stock_quantity": 4}, format="json")
    reserve(order_id="o1", lines=[line("SKU-1", 3)], caused_by=cause("o1"))

    refused = staff.put(
        "/api/v1/products/SKU-1", {"name": "Mug", "price": "9.50", "stock_quantity": 2}, format="json"
    )

    assert refused.status_code == 409
    assert refused.json()["code"] == "below_held"
    assert "3 units of SKU-1 are held for orders" in refused.json()["detail"]
    assert staff.get("/api/v1/products/SKU-1").json()["stock_quantity"] == 4
