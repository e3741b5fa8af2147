"""Reports and imports inside the admin (behind its login, with its look)."""

from django.contrib import admin
from django.urls import path

from apps.reports import views

app_name = "reports"

urlpatterns = [
    path("", admin.site.admin_view(views.overview), name="overview"),
    path("as-of/", admin.site.admin_view(views.as_of), name="as_of"),
    path("imports/<str:kind>/", admin.site.admin_view(views.import_upload), name="import_upload"),
    path(
        "imports/<str:kind>/template.csv",
        admin.site.admin_view(views.import_template),
        name="import_template",
    ),
    path(
        "imports/batch/<uuid:batch_id>/",
        admin.site.admin_view(views.import_batch),
        name="import_batch",
    ),
]
