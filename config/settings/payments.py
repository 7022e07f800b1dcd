"""The payments service: its apps, URLconf, database and Celery queue."""

from config.settings.base import *  # noqa: F403
from config.settings.base import SHARED_APPS, service_database, static_root

SERVICE_NAME = "payments"
INSTALLED_APPS = [*SHARED_APPS, "payments"]
ROOT_URLCONF = "config.urls.payments"
DATABASES = {"default": service_database(SERVICE_NAME)}
STATIC_ROOT = static_root(SERVICE_NAME)
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
EVENT_CONSUMERS = ["payments.handlers.CONSUMER"]
