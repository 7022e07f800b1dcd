"""URLs of the orders service."""

from django.urls import include, path

from config.urls.common import urlpatterns as common_urlpatterns

urlpatterns = [
    *common_urlpatterns,
    path("api/v1/", include("orders.api.v1.urls")),
    path("internal/v1/", include("orders.api.internal.urls")),
]
