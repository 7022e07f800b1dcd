"""Each service's role can reach its own database and nothing else, and each database holds
only its own service's tables."""

from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from tests.stack.conftest import SERVICES, database_url

PAIRS = [(service, other) for service in SERVICES for other in SERVICES if other != service]


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_role_connects_to_its_own_database(service):
    with psycopg2.connect(database_url(service)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT current_user, current_database()")
        assert cursor.fetchone() == (f"oms_{service}", f"oms_{service}")
    conn.close()


@pytest.mark.parametrize(("service", "other"), PAIRS)
def test_a_service_role_cannot_connect_to_another_services_database(service, other):
    with pytest.raises(psycopg2.OperationalError, match=f'permission denied for database "oms_{other}"'):
        psycopg2.connect(with_database(database_url(service), f"oms_{other}"))


@pytest.mark.parametrize("service", SERVICES)
def test_a_services_database_holds_none_of_another_services_tables_or_migrations(service):
    others = [other for other in SERVICES if other != service]
    conn = psycopg2.connect(database_url(service))
    with conn, conn.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT DISTINCT app FROM django_migrations")
        apps = {row[0] for row in cursor.fetchall()}
    conn.close()

    assert "django_migrations" in tables
    assert not [t for t in tables if t.startswith(tuple(f"{other}_" for other in others))]
    assert not apps.intersection(others)
