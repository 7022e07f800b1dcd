"""Endpoints every service has: health checks and the Django admin."""

from django.conf import settings
from django.contrib import admin
from django.urls import path

from config import health

admin.site.site_header = f"{settings.SERVICE_NAME.capitalize()} service administration"
admin.site.site_title = f"{settings.SERVICE_NAME} admin"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
]
