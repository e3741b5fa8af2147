"""Products in the admin: owners edit the catalog; everyone with access sees it, with the
product's stock per visible location and its recent movements."""

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.forms.models import BaseInlineFormSet
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from apps.catalog.models import Product, SubstitutionGroup, SubstitutionMember
from apps.catalog.services import substitutes_changed, substitution_group_delete
from apps.core.admin_tools import CsvExportMixin
from apps.inventory.admin_display import (
    ScopedMerchantFilter,
    ledger_url,
    movements_table,
    stock_badge,
)
from apps.inventory.models import LedgerEntry, StockLevel
from apps.merchants.admin_scoping import (
    ScopedAdminMixin,
    access_for,
    location_q,
    merchants_owned,
)
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


class SubstitutionMemberFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        merchant_id = self.instance.merchant_id
        kept = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if len(kept) < 2:
            raise ValidationError(
                "A group needs at least two products (one stands in for another)."
            )
        for data in kept:
            product = data.get("product")
            if merchant_id and product is not None and product.merchant_id != merchant_id:
                raise ValidationError(f"{product.sku} is another merchant's product.")


class SubstitutionMemberInline(admin.TabularInline):
    model = SubstitutionMember
    formset = SubstitutionMemberFormSet
    fields = ("product", "units", "priority")
    extra = 2

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "product":  # the products of the merchants the user owns
            kwargs["queryset"] = Product.objects.filter(
                merchant__in=merchants_owned(request.user)
            ).order_by("sku")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_view_permission(self, request, obj=None):
        return not access_for(request.user).is_empty

    def _owner(self, request, obj) -> bool:
        access = access_for(request.user)
        return (
            access.is_superuser
            or (obj is None and bool(access.owned))
            or (obj is not None and access.owns(obj.merchant_id))
        )

    def has_add_permission(self, request, obj=None):
        return self._owner(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._owner(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._owner(request, obj)


@admin.register(SubstitutionGroup)
class SubstitutionGroupAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Products that stand in for one another (owners edit them): a reservation line that
    allows substitutes takes the others when its SKU is short."""

    change_role = "owner"
    list_display = ("code", "name", "merchant", "products")
    list_select_related = ("merchant",)
    list_filter = (("merchant", ScopedMerchantFilter),)
    search_fields = ("code", "name", "members__product__sku")
    inlines = [SubstitutionMemberInline]
    readonly_fields = ("created_at", "updated_at")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("members__product")

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("merchant")
        return fields

    @admin.display(description="Products (units)")
    def products(self, group: SubstitutionGroup) -> str:
        return ", ".join(f"{m.product.sku} ({m.units})" for m in group.members.all())

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        substitutes_changed.send(merchant=form.instance.merchant)  # cached availability

    def delete_model(self, request, obj):
        substitution_group_delete(group=obj)

    def delete_queryset(self, request, queryset):
        for group in queryset:
            substitution_group_delete(group=group)
