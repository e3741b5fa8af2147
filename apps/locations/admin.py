"""Locations in the admin: owners edit them; managers see the locations assigned to them,
with the stock held there and its recent movements."""

from django.contrib import admin
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils.html import format_html

from apps.core.admin_tools import CsvExportMixin
from apps.inventory.admin_display import ScopedMerchantFilter, ledger_url, movements_table
from apps.inventory.models import LedgerEntry, StockLevel
from apps.locations.models import Location
from apps.merchants.admin_scoping import ScopedAdminMixin


@admin.register(Location)
class LocationAdmin(CsvExportMixin, ScopedAdminMixin, admin.ModelAdmin):
    location_fields = ("id",)
    change_role = "owner"
    list_display = ("code", "name", "merchant", "kind", "city", "country", "status", "priority")
    list_select_related = ("merchant",)
    list_filter = (("merchant", ScopedMerchantFilter), "kind", "status", "country", "city")
    search_fields = ("code", "name", "address", "city")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("merchant", "code", "name", "kind", "status", "priority", "capacity")}),
        (
            "Address",
            {"fields": ("address", "city", "country", "timezone", "latitude", "longitude")},
        ),
    )
    actions = ["export_selected_csv"]
    change_form_template = "admin/stockroom/change_form.html"
    csv_filename = "locations"
    csv_fields = (
        ("merchant", "merchant__code"), ("code", "code"), ("name", "name"), ("kind", "kind"),
        ("status", "status"), ("priority", "priority"), ("address", "address"),
        ("latitude", "latitude"), ("longitude", "longitude"), ("city", "city"),
        ("country", "country"), ("timezone", "timezone"), ("capacity", "capacity"),
    )  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("merchant")
        return fields

    def change_view(self, request, object_id, form_url="", extra_context=None):
        location = (
            self.get_queryset(request).filter(pk=object_id).first() if object_id.isdigit() else None
        )
        panels = []
        if location is not None:
            totals = StockLevel.objects.filter(location=location).aggregate(
                skus=Count("id"), on_hand=Sum("on_hand"), reserved=Sum("reserved"),
                in_transit=Sum("in_transit"),
            )  # fmt: skip
            stock_url = reverse("admin:inventory_stocklevel_changelist")
            held = (
                format_html(
                    "{} on hand of a capacity of {} ({}%)",
                    totals["on_hand"] or 0,
                    location.capacity,
                    round(100 * (totals["on_hand"] or 0) / location.capacity)
                    if location.capacity
                    else "-",
                )
                if location.capacity is not None
                else format_html("{} on hand", totals["on_hand"] or 0)
            )
            summary = format_html(
                "<p>{} SKUs, {}, {} reserved, {} in transit. "
                '<a href="{}?location__id__exact={}">Stock at this location</a> · '
                '<a href="{}?location__id__exact={}&amp;stock=low">Low stock</a></p>',
                totals["skus"], held, totals["reserved"] or 0,
                totals["in_transit"] or 0, stock_url, location.pk, stock_url, location.pk,
            )  # fmt: skip
            panels = [
                ("Stock", summary),
                (
                    "Recent movements",
                    movements_table(
                        LedgerEntry.objects.filter(location=location),
                        ledger_url(location__id__exact=location.pk),
                    ),
                ),
            ]
        extra_context = {**(extra_context or {}), "stockroom_panels": panels}
        return super().change_view(request, object_id, form_url, extra_context)
