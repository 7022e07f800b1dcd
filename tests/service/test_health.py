"""/healthz and /readyz, checked in-process for the service whose settings this run uses."""

import pytest
from django.db import OperationalError, connection
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_lives(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_when_database_and_kafka_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "kafka": "ok"}}


def test_readyz_stays_ready_but_degraded_when_the_broker_does_not_answer(client):
    # given a bootstrap address nothing listens on
    with override_settings(KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1"):
        # when
        response = client.get("/readyz")

    # then the process still takes requests (their events wait in the outbox), and says why it is degraded
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["database"] == "ok"
    assert "127.0.0.1:1 did not answer" in body["checks"]["kafka"]


def test_readyz_is_unavailable_when_the_database_does_not_answer(client):
    # given a database that refuses every query
    def refuse(execute, sql, params, many, context):
        raise OperationalError("connection refused")

    # when
    with connection.execute_wrapper(refuse):
        response = client.get("/readyz")

    # then
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "OperationalError: connection refused"


def test_health_endpoints_refuse_writes(client):
    assert client.post("/readyz").status_code == 405
