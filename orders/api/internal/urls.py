from django.urls import path

from orders.api.internal import views

urlpatterns = [path("state", views.OrderStateView.as_view(), name="internal-state")]
