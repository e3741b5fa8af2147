from django.urls import path

from apps.catalog.api import views

urlpatterns = [
    path("products/", views.ProductListView.as_view(), name="product-list"),
    path("products/<path:sku>/", views.ProductDetailView.as_view(), name="product-detail"),
]
