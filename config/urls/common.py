"""Endpoints every service has: health checks, Prometheus metrics and the Django admin."""

from django.conf import settings
from django.contrib import admin
from django.urls import path

from config import health
from events.metrics import metrics_view

admin.site.site_header = f"{settings.SERVICE_NAME.capitalize()} service administration"
admin.site.site_title = f"{settings.SERVICE_NAME} admin"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
]
