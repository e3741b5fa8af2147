"""The merchant REST API: `/api/v1/...`, its OpenAPI schema and interactive docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# Stock first: availability reads and reservations are most of the traffic (and its
# warehouses/transfer/ goes before the locations' warehouses/<warehouse_id>/).
v1 = [
    path("", include("apps.inventory.api.urls")),
    path("", include("apps.catalog.api.urls")),
    path("", include("apps.locations.api.urls")),
    path("", include("apps.feeds.api.urls")),
    path("", include("apps.alerts.api.urls")),
    path("", include("apps.reports.api.urls")),
]

urlpatterns = [
    path("v1/", include((v1, "api"), namespace="v1")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
