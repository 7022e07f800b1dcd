"""The payments service: its apps, URLconf, database and Celery queue."""

from config.settings.base import *  # noqa: F403
from config.settings.base import SHARED_APPS, SPECTACULAR_SETTINGS, env, service_database, static_root

SERVICE_NAME = "payments"
INSTALLED_APPS = [*SHARED_APPS, "payments"]
ROOT_URLCONF = "config.urls.payments"
DATABASES = {"default": service_database(SERVICE_NAME)}
STATIC_ROOT = static_root(SERVICE_NAME)
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
EVENT_CONSUMERS = ["payments.handlers.CONSUMER"]
# The simulated card gateway: milliseconds per call, and the share of calls that fail transiently.
PAYMENTS_GATEWAY_LATENCY_MS = env.int("PAYMENTS_GATEWAY_LATENCY_MS", default=0)
PAYMENTS_GATEWAY_ERROR_RATE = env.float("PAYMENTS_GATEWAY_ERROR_RATE", default=0.0)
SPECTACULAR_SETTINGS = {
    **SPECTACULAR_SETTINGS,
    "TITLE": "Payments service API",
    "DESCRIPTION": "Staff read payments.",
}
