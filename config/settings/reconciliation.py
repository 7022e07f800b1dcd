"""The reconciliation service: its apps, URLconf, database and Celery queue."""

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    SHARED_APPS,
    SPECTACULAR_SETTINGS,
    env,
    kafka_principal,
    service_database,
    static_root,
)

SERVICE_NAME = "reconciliation"
INSTALLED_APPS = [*SHARED_APPS, "reconciliation"]
ROOT_URLCONF = "config.urls.reconciliation"
DATABASES = {"default": service_database(SERVICE_NAME)}
KAFKA_USERNAME, KAFKA_PASSWORD = kafka_principal(SERVICE_NAME)
STATIC_ROOT = static_root(SERVICE_NAME)
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
EVENT_CONSUMERS = ["reconciliation.handlers.CONSUMER"]
SPECTACULAR_SETTINGS = {
    **SPECTACULAR_SETTINGS,
    "TITLE": "Reconciliation service API",
    "DESCRIPTION": "Support console (divergences between the services).",
}
METRICS_COLLECTORS = ["reconciliation.metrics.ReconciliationCollector"]

# The internal APIs the sweep audits (config/internal_api.py), by service.
RECONCILIATION_SERVICE_URLS = {
    service: env(
        f"{service.upper()}_URL",
        default=f"http://127.0.0.1:{env.int(f'{service.upper()}_PORT', default=port)}",
    )
    for service, port in (("orders", 8001), ("inventory", 8002), ("payments", 8003))
}
# An order whose records changed less than this long ago is still moving: rules comparing the
# services leave it for the next sweep.
RECONCILIATION_SETTLE_SECONDS = env.int("RECONCILIATION_SETTLE_SECONDS", default=15)
# A scheduled sweep audits the orders changed since the previous one began, less this margin
# (and at most RECONCILIATION_FIRST_SWEEP_HOURS back when there was none). It must be at least
# RECONCILIATION_SETTLE_SECONDS: an order left alone because it was still moving is then inside
# the next sweep's window; the rest covers a write committed a moment after its timestamp. Every
# second of it is audited again by each sweep (at 200 orders/s, 200 orders' three records).
RECONCILIATION_SWEEP_OVERLAP_SECONDS = env.int("RECONCILIATION_SWEEP_OVERLAP_SECONDS", default=30)
RECONCILIATION_FIRST_SWEEP_HOURS = env.int("RECONCILIATION_FIRST_SWEEP_HOURS", default=24)
# How far back a sweep asked for over the staff API (POST /api/v1/reconcile, run inside the
# request) may reach with `since`; `manage.py reconcile --since` has no such bound.
RECONCILIATION_API_SINCE_MAX_HOURS = env.int("RECONCILIATION_API_SINCE_MAX_HOURS", default=1)
# A sweep audits its orders this many at a time, and works only this share of the time: after
# each chunk (and each page of a window it reads) it rests (1 - duty) / duty times as long as
# that took, so that its reads through the services' web processes and databases never crowd
# out the customers' requests (docs/reconciliation.md). 1: no rest.
RECONCILIATION_SWEEP_CHUNK = env.int("RECONCILIATION_SWEEP_CHUNK", default=2000)
RECONCILIATION_SWEEP_DUTY = env.float("RECONCILIATION_SWEEP_DUTY", default=0.5)
# A scheduled sweep also gives way to an overload: before each piece of its work it rests while
# the participants' consumers would keep a new event waiting longer than YIELD_WAIT (their waits
# summed), at most YIELD_MAX in a sweep, after which it goes on at its duty. Changes that recent
# are not yet auditable anyway, and its reads would take the CPU the backlog needs.
RECONCILIATION_SWEEP_YIELD_WAIT_SECONDS = env.float("RECONCILIATION_SWEEP_YIELD_WAIT_SECONDS", default=2.0)
RECONCILIATION_SWEEP_YIELD_MAX_SECONDS = env.float("RECONCILIATION_SWEEP_YIELD_MAX_SECONDS", default=300.0)
# Every service's consumer group is watched: the overview shows them, and the sweep audits an
# order only once the events up to its last change can have reached every side.
PIPELINE_WATCHED_CONSUMERS = ["orders", "inventory", "payments", "reconciliation"]
# The circuit breaker on automatic fixes (services/sweep.py _breaker_trips): a sweep that opens
# more than MAX_OPENED divergences, or would send more than MAX_FIX_SHARE of what it audited as
# automatic fixes (counted from MIN_FIXES on, so that a sweep of a handful of orders can fix
# them), sends none and leaves them for a person. A sweep sends at most AUTO_FIXES_PER_SWEEP.
RECONCILIATION_BREAKER_MAX_OPENED = env.int("RECONCILIATION_BREAKER_MAX_OPENED", default=100)
RECONCILIATION_BREAKER_MAX_FIX_SHARE = env.float("RECONCILIATION_BREAKER_MAX_FIX_SHARE", default=0.05)
RECONCILIATION_BREAKER_MIN_FIXES = env.int("RECONCILIATION_BREAKER_MIN_FIXES", default=20)
RECONCILIATION_AUTO_FIXES_PER_SWEEP = env.int("RECONCILIATION_AUTO_FIXES_PER_SWEEP", default=200)
