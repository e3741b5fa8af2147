from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("apps.accounts.urls")),  # before the admin: its password reset pages
    path("admin/reports/", include("apps.reports.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("inventory_site.api_urls")),
    path("", include("apps.observability.urls")),
    path("dashboard/", include("apps.dashboard.urls")),
]

handler404 = "apps.core.api.problems.not_found"
