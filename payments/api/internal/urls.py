from django.urls import path

from payments.api.internal import views

urlpatterns = [path("state", views.PaymentStateView.as_view(), name="internal-state")]
