"""/healthz and /readyz, checked in-process for the service whose settings this run uses."""

import pytest
from django.db import OperationalError, connection
from django.test import override_settings

from events import pipeline

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_lives(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
def own_stages_measured(pipeline_measured):
    """This service's outbox and consumers measured just now, `delay` seconds behind."""

    def measured(delay: float = 0.0, **options) -> None:
        pipeline_measured(dict.fromkeys(pipeline.own_stages(), delay), **options)

    return measured


def test_readyz_is_ready_when_database_kafka_and_pipeline_are(client, own_stages_measured):
    own_stages_measured()

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "kafka": "ok", "pipeline": "ok"},
    }


@override_settings(PIPELINE_DEGRADED_SECONDS=10)
def test_readyz_is_degraded_and_says_which_stage_is_behind(client, own_stages_measured):
    own_stages_measured(42.0)

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert f"{pipeline.OUTBOX} 42.0 s behind (100 events waiting)" in body["checks"]["pipeline"]


def test_readyz_is_degraded_while_a_stage_is_stalled(client, own_stages_measured):
    own_stages_measured(3.0, stalled={pipeline.OUTBOX})

    body = client.get("/readyz").json()

    assert body["status"] == "degraded"
    assert body["checks"]["pipeline"] == f"{pipeline.OUTBOX} stalled 3 s behind (100 events waiting)"


@pytest.mark.parametrize("measurement", ["missing", "stale"])
def test_readyz_is_degraded_while_nobody_measures_the_pipeline(client, own_stages_measured, measurement):
    if measurement == "stale":
        own_stages_measured(ago=60)

    body = client.get("/readyz").json()

    assert body["status"] == "degraded"
    assert "is watch_pipeline running?" in body["checks"]["pipeline"]


def test_readyz_stays_ready_but_degraded_when_the_broker_does_not_answer(client, own_stages_measured):
    own_stages_measured()
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
    assert body["checks"]["pipeline"] == "ok"


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
