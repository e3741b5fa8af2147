"""The admin site's name, and the import history (read-only)."""

from django.contrib import admin
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html

from apps.merchants.admin_scoping import ScopedAdminMixin, access_for
from apps.reports.models import ImportBatch

admin.site.site_header = "Stockroom"
admin.site.site_title = "Stockroom"
admin.site.index_title = "Stock work"
admin.site.site_url = None  # the admin is the product's web interface: no "view site" link
# The lists need the width: pages are reached from the top navigation and the index instead
# of an app sidebar beside every page.
admin.site.enable_nav_sidebar = False


@admin.register(ImportBatch)
class ImportBatchAdmin(ScopedAdminMixin, admin.ModelAdmin):
    change_role = None
    allow_add = allow_delete = False
    list_display = (
        "filename", "kind", "merchant", "status", "total_rows", "valid_rows", "processed_rows",
        "uploaded_by", "created_at", "progress_link",
    )  # fmt: skip
    list_filter = ("kind", "status", ("created_at", admin.DateFieldListFilter))
    list_select_related = ("merchant", "uploaded_by")
    exclude = ("rows", "content")
    search_fields = ("filename",)

    def get_queryset(self, request):
        queryset = super().get_queryset(request).defer("rows", "content")
        access = access_for(request.user)
        if access.is_superuser:
            return queryset
        return queryset.filter(Q(uploaded_by=request.user) | Q(merchant_id__in=access.owned))

    @admin.display(description="Details")
    def progress_link(self, batch: ImportBatch) -> str:
        return format_html(
            '<a href="{}">Open</a>', reverse("reports:import_batch", args=[batch.pk])
        )
