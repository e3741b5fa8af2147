from django.contrib import admin
from django.urls import include, path

# The API first: patterns are tried in order, and its requests are the most frequent.
urlpatterns = [
    path("api/", include("inventory_site.api_urls")),
    path("", include("apps.accounts.urls")),  # before the admin: its password reset pages
    path("admin/reports/", include("apps.reports.urls")),
    path("admin/", admin.site.urls),
    path("", include("apps.observability.urls")),
    path("dashboard/", include("apps.dashboard.urls")),
    path("", include("apps.home.urls")),
]

handler400 = "apps.api.problems.bad_request"
handler404 = "apps.api.problems.not_found"
