"""Liveness and readiness endpoints, the same in every service.

/healthz answers while the process can serve requests at all. /readyz answers 200 while the
service's database does, since every request needs it, and 503 otherwise: a load balancer sends
traffic only to web processes that can serve it. Kafka is checked and reported too, but a
broker that does not answer makes the service "degraded", not unready: requests keep being
served and their events wait in the outbox (an order can be placed while Kafka is down), so
taking every web process out of service with the broker would turn a delay into an outage.
The pipeline is reported the same way: "degraded", with the reason, while one of this service's
stages (its outbox, its consumers) is more than PIPELINE_DEGRADED_SECONDS behind, stalled, or not
measured (events/pipeline.py; one small query, the measurements `watch_pipeline` stored).
"""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from events import kafka, pipeline

# Short enough that a probe with a 2 s timeout still gets an answer while the broker is down.
KAFKA_TIMEOUT_SECONDS = 1.0


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    checks = {"database": _database_error(), "kafka": kafka.broker_error(KAFKA_TIMEOUT_SECONDS)}
    checks["pipeline"] = None if checks["database"] else _pipeline_error()
    if checks["database"]:
        status = "unavailable"
    elif checks["kafka"] or checks["pipeline"]:
        status = "degraded"
    else:
        status = "ready"
    body = {"status": status, "checks": {name: error or "ok" for name, error in checks.items()}}
    return JsonResponse(body, status=503 if status == "unavailable" else 200)


def _database_error() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means "not ready"; the message says which
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def _pipeline_error() -> str | None:
    own = pipeline.own_stages()
    found = pipeline.delays(own)
    problems = [
        stage.describe()
        for stage in found.values()
        if stage.stale or stage.stalled or stage.seconds > settings.PIPELINE_DEGRADED_SECONDS
    ]
    problems += [f"{name} never measured (is watch_pipeline running?)" for name in own if name not in found]
    return "; ".join(problems) or None
