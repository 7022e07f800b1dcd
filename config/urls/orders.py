"""URLs of the orders service."""

from config.urls.common import urlpatterns as common_urlpatterns

urlpatterns = [*common_urlpatterns]
