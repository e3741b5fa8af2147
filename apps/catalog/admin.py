"""Products in the admin: owners edit the catalog; everyone with access sees it, with the
product's stock per visible location and its recent movements."""

from django.contrib import admin
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.catalog.models import Product
from apps.core.admin_tools import CsvExportMixin
from apps.inventory.admin_display import (
    ScopedMerchantFilter,
    ledger_url,
    movements_table,
    stock_badge,
)
from apps.inventory.models import LedgerEntry, StockLevel
from apps.merchants.admin_scoping import ScopedAdminMixin, access_for, location_q
from apps.reports.selectors import LOW_STOCK, OUT_OF_STOCK


def stock_table(levels) -> str:
    levels = list(
        levels.select_related("location").order_by("location__priority", "location__code")
    )
    if not levels:
        return format_html('<p class="help">{}</p>', "No stock at any location you can see.")
    rows = format_html_join(
        "",
        "<tr><td><a href='{}'>{}</a></td><td class='sr-num'>{}</td><td class='sr-num'>{}</td>"
        "<td class='sr-num'>{}</td><td class='sr-num'>{}</td><td class='sr-num'>{}</td>"
        "<td>{}</td></tr>",
        (
            (
                reverse("admin:inventory_stocklevel_change", args=[level.pk]),
                level.location.code, level.on_hand, level.held, level.available,
                level.damaged, level.in_transit, stock_badge(level),
            )
            for level in levels
        ),
    )  # fmt: skip
    return format_html(
        '<table class="sr-movements"><thead><tr><th>Location</th><th>On hand</th>'
        "<th>Reserved</th><th>Available</th><th>Damaged</th><th>In transit</th><th>Status</th>"
        "</tr></thead><tbody>{}</tbody></table>",
        rows,
    )


class ProductStockFilter(admin.SimpleListFilter):
    """Products low or out of stock at any location the user sees."""

    title = "stock"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("low", "Low at some location"), ("out", "Out of stock at some location")]

    def queryset(self, request, queryset):
        condition = {"low": LOW_STOCK, "out": OUT_OF_STOCK}.get(self.value())
        if condition is None:
            return queryset
        levels = StockLevel.objects.filter(
            condition, location_q(access_for(request.user), "location_id"), product=OuterRef("pk")
        )
        return queryset.filter(Exists(levels))


@admin.register(Product)
class ProductAdmin(CsvExportMixin, ScopedAdminMixin, admin.ModelAdmin):
    change_role = "owner"
    list_display = (
        "sku", "name", "merchant", "category", "brand", "price", "unit", "barcode", "is_active",
    )  # fmt: skip
    list_select_related = ("merchant",)
    list_filter = (
        ("merchant", ScopedMerchantFilter), ProductStockFilter, "is_active", "category", "brand",
        "unit",
    )  # fmt: skip
    search_fields = ("^sku", "name", "=barcode")
    search_help_text = "SKU (prefix), name or barcode."
    show_full_result_count = False
    actions = ["export_selected_csv"]
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("merchant", "sku", "name", "description", "category", "brand")}),
        ("Selling", {"fields": ("price", "unit", "barcode", "is_active")}),
        ("Shipping", {"fields": ("weight_kg", ("length_cm", "width_cm", "height_cm"))}),
    )
    change_form_template = "admin/stockroom/change_form.html"
    csv_filename = "products"
    csv_fields = (
        ("merchant", "merchant__code"), ("sku", "sku"), ("name", "name"),
        ("description", "description"), ("price", "price"), ("unit", "unit"),
        ("barcode", "barcode"), ("is_active", "is_active"), ("category", "category"),
        ("brand", "brand"), ("weight_kg", "weight_kg"), ("length_cm", "length_cm"),
        ("width_cm", "width_cm"), ("height_cm", "height_cm"),
    )  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("merchant")  # a product never moves to another merchant
        return fields

    def changelist_links(self, request):
        access = access_for(request.user)
        if not (access.is_superuser or access.owned):
            return []
        return [("Import products", reverse("reports:import_upload", args=["products"]))]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        product = (
            self.get_queryset(request).filter(pk=object_id).first() if object_id.isdigit() else None
        )
        panels = []
        if product is not None:
            visible = location_q(access_for(request.user), "location_id")
            panels = [
                (
                    "Stock by location",
                    stock_table(StockLevel.objects.with_buckets().filter(visible, product=product)),
                ),
                (
                    "Recent movements",
                    movements_table(
                        LedgerEntry.objects.filter(visible, product=product),
                        ledger_url(product__id__exact=product.pk),
                    ),
                ),
            ]
        extra_context = {**(extra_context or {}), "stockroom_panels": panels}
        return super().change_view(request, object_id, form_url, extra_context)
