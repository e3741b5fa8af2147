from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/reports/", include("apps.reports.urls")),
    path("admin/", admin.site.urls),
    path("", include("apps.observability.urls")),
]
