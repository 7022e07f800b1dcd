"""The orders service: its apps, URLconf, database and Celery queue."""

from config.settings.base import *  # noqa: F403
from config.settings.base import SHARED_APPS, SPECTACULAR_SETTINGS, env, service_database, static_root

SERVICE_NAME = "orders"
INSTALLED_APPS = [*SHARED_APPS, "orders"]
ROOT_URLCONF = "config.urls.orders"
DATABASES = {"default": service_database(SERVICE_NAME)}
STATIC_ROOT = static_root(SERVICE_NAME)
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
EVENT_CONSUMERS = ["orders.handlers.CONSUMER"]
# An order still pending after this long is failed with reason `timeout` and compensated.
ORDERS_PENDING_TIMEOUT_SECONDS = env.int("ORDERS_PENDING_TIMEOUT_SECONDS", default=120)
SPECTACULAR_SETTINGS = {
    **SPECTACULAR_SETTINGS,
    "TITLE": "Orders service API",
    "DESCRIPTION": "Customers place and follow orders.",
}
