"""The inventory service: its apps, URLconf, database and Celery queue."""

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    SHARED_APPS,
    SPECTACULAR_SETTINGS,
    kafka_principal,
    service_database,
    static_root,
)

SERVICE_NAME = "inventory"
INSTALLED_APPS = [*SHARED_APPS, "inventory"]
ROOT_URLCONF = "config.urls.inventory"
DATABASES = {"default": service_database(SERVICE_NAME)}
KAFKA_USERNAME, KAFKA_PASSWORD = kafka_principal(SERVICE_NAME)
STATIC_ROOT = static_root(SERVICE_NAME)
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
EVENT_CONSUMERS = ["inventory.handlers.CONSUMER"]
SPECTACULAR_SETTINGS = {
    **SPECTACULAR_SETTINGS,
    "TITLE": "Inventory service API",
    "DESCRIPTION": "Staff manage products and stock.",
}
