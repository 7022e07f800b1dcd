from django.urls import path

from inventory.api.internal import views

urlpatterns = [path("state", views.InventoryStateView.as_view(), name="internal-state")]
