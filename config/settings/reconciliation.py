"""The reconciliation service: its apps, URLconf, database and Celery queue."""

from config.settings.base import *  # noqa: F403
from config.settings.base import SHARED_APPS, SPECTACULAR_SETTINGS, service_database, static_root

SERVICE_NAME = "reconciliation"
INSTALLED_APPS = [*SHARED_APPS, "reconciliation"]
ROOT_URLCONF = "config.urls.reconciliation"
DATABASES = {"default": service_database(SERVICE_NAME)}
STATIC_ROOT = static_root(SERVICE_NAME)
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
EVENT_CONSUMERS = ["reconciliation.handlers.CONSUMER"]
SPECTACULAR_SETTINGS = {
    **SPECTACULAR_SETTINGS,
    "TITLE": "Reconciliation service API",
    "DESCRIPTION": "Support console (divergences between the services).",
}
