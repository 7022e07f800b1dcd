from django.urls import path

from card_gateway import views

urlpatterns = [
    path("v1/payment_intents", views.payment_intents),
    path("v1/payment_intents/<str:intent_id>", views.payment_intent),
    path("v1/refunds", views.refunds),
    path("_faults", views.faults),
    path("_ledger", views.ledger),
]
