from django.urls import path

from payments.api.v1 import views

urlpatterns = [path("payments", views.PaymentListView.as_view(), name="payment-list")]
