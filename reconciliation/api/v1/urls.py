from django.urls import path

from reconciliation.api.v1 import views

urlpatterns = [
    path("divergences", views.DivergenceListView.as_view(), name="divergence-list"),
    path("reconcile", views.ReconcileView.as_view(), name="reconcile"),
]
