"""URLs of the reconciliation service."""

from django.urls import include, path

from config.urls.common import urlpatterns as common_urlpatterns

urlpatterns = [*common_urlpatterns, path("api/v1/", include("reconciliation.api.v1.urls"))]

# JSON error pages under /api/ and /internal/ (config/errors.py).
handler400 = "config.errors.bad_request"
handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"
