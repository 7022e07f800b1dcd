"""Endpoints every service has: health checks, Prometheus metrics, the Django admin, and its
OpenAPI schema with Swagger UI."""

from django.conf import settings
from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import health
from config.internal_api import BacklogView
from events.metrics import metrics_view

admin.site.site_header = f"{settings.SERVICE_NAME.capitalize()} service administration"
admin.site.site_title = f"{settings.SERVICE_NAME} admin"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("internal/v1/backlog", BacklogView.as_view(), name="internal-backlog"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]
