"""URLs of the reconciliation service."""

from django.urls import include, path

from config.urls.common import urlpatterns as common_urlpatterns

urlpatterns = [*common_urlpatterns, path("api/v1/", include("reconciliation.api.v1.urls"))]
