"""Liveness and readiness endpoints, the same in every service.

/healthz answers while the process can serve requests at all; /readyz also checks that the
service's database and the Kafka cluster answer, and says which one does not.
"""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from events import kafka

KAFKA_TIMEOUT_SECONDS = 2.0


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    checks = {"database": _database_error(), "kafka": kafka.broker_error(KAFKA_TIMEOUT_SECONDS)}
    ready = not any(checks.values())
    body = {
        "status": "ready" if ready else "unavailable",
        "checks": {name: error or "ok" for name, error in checks.items()},
    }
    return JsonResponse(body, status=200 if ready else 503)


def _database_error() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means "not ready"; the message says which
        return f"{type(exc).__name__}: {exc}".strip()
    return None
