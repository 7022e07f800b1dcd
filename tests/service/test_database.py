"""The service runs on its own database, as its own role."""

import select

import pytest
from django.conf import settings
from django.db import connection, connections

from tests.polling import wait_until

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


@pytest.fixture
def kept_connection():
    """A connection of this service's own, as a web process keeps one between requests."""
    kept = connections.create_connection("default")
    kept.ensure_connection()
    yield kept
    kept.close()


class CursorCounting:
    """A psycopg2 connection that counts the cursors opened on it (every query needs one)."""

    def __init__(self, real):
        self.real, self.cursors = real, 0

    def cursor(self, *args, **kwargs):
        self.cursors += 1
        return self.real.cursor(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_live_kept_connection_is_found_usable_without_a_query(kept_connection):
    counting = kept_connection.connection = CursorCounting(kept_connection.connection)
    try:
        assert kept_connection.is_usable()
    finally:
        kept_connection.connection = counting.real

    assert counting.cursors == 0  # Django's own check sends SELECT 1 through a cursor


def test_a_kept_connection_the_server_ended_is_found_unusable_before_a_request_uses_it(kept_connection):
    # given the server ends it (as a restart or a failover does)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [kept_connection.connection.get_backend_pid()])
    wait_until(
        lambda: select.select([kept_connection.connection], [], [], 0)[0],
        timeout=10,
        message="the server's word that it ended the connection",
    )

    # then the check Django makes before a request's first query (CONN_HEALTH_CHECKS) finds it
    # dead, so Django replaces it instead of failing the request
    assert not kept_connection.is_usable()
