"""The orders service: its apps, URLconf, database and Celery queue."""

from decimal import Decimal

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    REST_FRAMEWORK,
    SHARED_APPS,
    SPECTACULAR_SETTINGS,
    env,
    kafka_principal,
    service_database,
    static_root,
)

SERVICE_NAME = "orders"
INSTALLED_APPS = [*SHARED_APPS, "orders"]
ROOT_URLCONF = "config.urls.orders"
DATABASES = {"default": service_database(SERVICE_NAME)}
KAFKA_USERNAME, KAFKA_PASSWORD = kafka_principal(SERVICE_NAME)
STATIC_ROOT = static_root(SERVICE_NAME)
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
EVENT_CONSUMERS = ["orders.handlers.CONSUMER"]
WSGI_MIDDLEWARE = ["orders.wsgi.AdmissionMiddleware"]
# An order's total must lie within what a card payment can be (Stripe's limits for a two-decimal
# currency: at least 0.50, at most 999,999.99); outside them placement answers 400, before
# anything is written, instead of an order the provider refuses or a total the columns cannot hold.
ORDERS_MIN_TOTAL = Decimal(env("ORDERS_MIN_TOTAL", default="0.50"))
ORDERS_MAX_TOTAL = Decimal(env("ORDERS_MAX_TOTAL", default="999999.99"))
# An order still pending after this long is failed with reason `timeout` and compensated.
ORDERS_PENDING_TIMEOUT_SECONDS = env.int("ORDERS_PENDING_TIMEOUT_SECONDS", default=120)
# Admission control (orders/services/admission.py): placement refuses new orders (503,
# Retry-After) while as many orders are pending as the door's limit, which adapts so that the
# orders that finished the saga in the last WINDOW took about TARGET, their median from placement
# to outcome (the card provider's own latency included), between MIN_LIMIT and MAX_LIMIT, from
# INITIAL_LIMIT. A web process places at most MAX_IN_FLIGHT orders at once (ORDERS_WEB_WORKERS
# of them: 4 x 4 by default), lets up to MAX_QUEUED more wait QUEUE_SECONDS for a slot (5 ms once
# the queue has not emptied for twice that or while the limit binds), and refuses the rest. Each
# web process reads the pending orders and the latest outcomes every REFRESH_SECONDS.
# docs/benchmarks.md ("Overload") has the measurements.
ORDERS_ADMISSION_TARGET_SECONDS = env.float("ORDERS_ADMISSION_TARGET_SECONDS", default=1.0)
ORDERS_ADMISSION_WINDOW_SECONDS = env.float("ORDERS_ADMISSION_WINDOW_SECONDS", default=0.5)
# Orders placed longer ago than this are out of the door's queue and latency: waiting for the card
# provider's retry, they take none of the pipeline's capacity (over the target, and over the
# gateway's 2 s timeout that sends them there).
ORDERS_ADMISSION_HORIZON_SECONDS = env.float("ORDERS_ADMISSION_HORIZON_SECONDS", default=2.0)
ORDERS_ADMISSION_INITIAL_LIMIT = env.int("ORDERS_ADMISSION_INITIAL_LIMIT", default=200)
ORDERS_ADMISSION_MIN_LIMIT = env.int("ORDERS_ADMISSION_MIN_LIMIT", default=20)
ORDERS_ADMISSION_MAX_LIMIT = env.int("ORDERS_ADMISSION_MAX_LIMIT", default=5000)
ORDERS_ADMISSION_MAX_IN_FLIGHT = env.int("ORDERS_ADMISSION_MAX_IN_FLIGHT", default=4)
ORDERS_ADMISSION_MAX_QUEUED = env.int("ORDERS_ADMISSION_MAX_QUEUED", default=24)
ORDERS_ADMISSION_QUEUE_SECONDS = env.float("ORDERS_ADMISSION_QUEUE_SECONDS", default=0.5)
ORDERS_ADMISSION_REFRESH_SECONDS = env.float("ORDERS_ADMISSION_REFRESH_SECONDS", default=0.25)
# A stage of the saga's path that has not moved for this long counts as an outage, not a backlog:
# the door lifts its limit (placing orders keeps working while a service or Kafka is down).
ORDERS_ADMISSION_MOVING_SECONDS = env.float("ORDERS_ADMISSION_MOVING_SECONDS", default=3.0)
# ... and keeps it lifted until the stage has moved for this long again: catching up is not an overload.
ORDERS_ADMISSION_GRACE_SECONDS = env.float("ORDERS_ADMISSION_GRACE_SECONDS", default=30.0)
# The doors anyone may knock at, per client address (config/throttling.py): each costs a
# deliberate password hash. The address is the connection's own (NUM_PROXIES, config/settings/base.py).
# The local stack raises both rates (stack/env.sh): its tests register from one address.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        "register": env("ORDERS_THROTTLE_REGISTER", default="10/hour"),
        "token": env("ORDERS_THROTTLE_TOKEN", default="20/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    **SPECTACULAR_SETTINGS,
    "TITLE": "Orders service API",
    "DESCRIPTION": "Customers place and follow orders.",
}
# The saga's participants' groups are watched too: admission control and the timeouts read them.
PIPELINE_WATCHED_CONSUMERS = ["orders", "inventory", "payments"]
