"""Prepared statements against the real PostgreSQL: prepared once per connection, then run by name."""

import pytest
from django.db import DataError, connection, transaction

from events.prepared import Statement

pytestmark = pytest.mark.django_db(transaction=True)

SUM = Statement("test_sum", "SELECT sum(x) FROM unnest(%s::int[]) AS x WHERE x > %s")
DIVIDE = Statement("test_divide", "SELECT 10 / %s::int")


def prepared_here() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


def test_a_statement_is_prepared_with_its_first_run_and_run_by_name_after(django_assert_num_queries):
    with django_assert_num_queries(2) as captured, connection.cursor() as cursor:
        SUM.execute(cursor, [[1, 2, 3], 1])
        assert cursor.fetchone() == (5,)
        SUM.execute(cursor, [[10, 20], 0])
        assert cursor.fetchone() == (30,)

    first, second = (query["sql"] for query in captured.captured_queries)
    assert first.startswith("PREPARE test_sum AS") and "EXECUTE test_sum(ARRAY[1,2,3]::int[], 1)" in first
    assert second == "EXECUTE test_sum(ARRAY[10,20]::int[], 0)"
    assert "test_sum" in prepared_here()


def test_a_new_connection_prepares_again():
    with connection.cursor() as cursor:
        SUM.execute(cursor, [[1], 0])
    connection.close()

    with connection.cursor() as cursor:
        SUM.execute(cursor, [[2], 0])
        assert cursor.fetchone() == (2,)


def test_a_first_run_that_failed_leaves_the_statement_usable():
    # the PREPARE takes effect even when the EXECUTE sent with it fails, and survives the rollback
    with pytest.raises(DataError), transaction.atomic(), connection.cursor() as cursor:
        DIVIDE.execute(cursor, [0])

    with connection.cursor() as cursor:
        DIVIDE.execute(cursor, [5])
        assert cursor.fetchone() == (2,)


def test_a_statement_refuses_the_wrong_number_of_parameters_and_stray_percent_signs():
    with pytest.raises(TypeError, match="takes 2 parameters"), connection.cursor() as cursor:
        SUM.execute(cursor, [[1]])
    with pytest.raises(ValueError, match="no %"):
        Statement("test_like", "SELECT 1 WHERE 'a' LIKE '%'")
