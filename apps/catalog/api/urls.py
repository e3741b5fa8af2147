from django.urls import path

from apps.catalog.api import views

urlpatterns = [
    path("products/", views.ProductListView.as_view(), name="product-list"),
    path("products/<path:sku>/", views.ProductDetailView.as_view(), name="product-detail"),
    path(
        "substitution-groups/",
        views.SubstitutionGroupListView.as_view(),
        name="substitution-group-list",
    ),
    path(
        "substitution-groups/<slug:code>/",
        views.SubstitutionGroupDetailView.as_view(),
        name="substitution-group-detail",
    ),
]
