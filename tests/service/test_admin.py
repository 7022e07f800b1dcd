"""The service's Django admin renders, under the service's own name."""

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_admin_login_page_renders(client):
    response = client.get("/admin/login/")

    assert response.status_code == 200
    assert f"{settings.SERVICE_NAME} admin" in response.content.decode()


def test_admin_index_renders_for_a_superuser(admin_client):
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    assert f"{settings.SERVICE_NAME.capitalize()} service administration" in response.content.decode()
