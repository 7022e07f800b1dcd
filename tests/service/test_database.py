"""The service runs on its own database, as its own role."""

import pytest
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.django_db


def test_the_service_connects_as_its_own_role_to_its_own_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_database()")
        user, database = cursor.fetchone()

    assert user == f"oms_{settings.SERVICE_NAME}"
    assert database == f"test_oms_{settings.SERVICE_NAME}"  # pytest-django's copy of oms_<service>


def test_only_this_services_app_is_installed():
    services = {"orders", "inventory", "payments", "reconciliation"}

    assert services.intersection(settings.INSTALLED_APPS) == {settings.SERVICE_NAME}
