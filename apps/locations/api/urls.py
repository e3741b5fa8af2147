from django.urls import path

from apps.locations.api import views, warehouse_views

urlpatterns = [
    path("locations/", views.LocationListView.as_view(), name="location-list"),
    path("locations/<str:code>/", views.LocationDetailView.as_view(), name="location-detail"),
    path("warehouses/", warehouse_views.WarehouseListView.as_view(), name="warehouse-list"),
    path(
        "warehouses/<str:warehouse_id>/",
        warehouse_views.WarehouseDetailView.as_view(),
        name="warehouse-detail",
    ),
]
