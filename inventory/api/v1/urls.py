from django.urls import path

from inventory.api.v1 import views

urlpatterns = [
    path("products", views.ProductListView.as_view(), name="product-list"),
    path("products/<str:sku>", views.ProductDetailView.as_view(), name="product-detail"),
]
