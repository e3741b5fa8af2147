from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.alerts.models import Alert
from apps.alerts.services import RESOLVED_BY_STOCK, alert_acknowledge, alert_resolve
from apps.inventory.admin_display import location_label
from apps.merchants.admin_scoping import ScopedAdminMixin


@admin.register(Alert)
class AlertAdmin(ScopedAdminMixin, admin.ModelAdmin):
    # Limited managers see the alerts of their locations; owners and managers acknowledge.
    location_fields = ("location_id",)
    change_role = "stock"
    allow_add = allow_delete = False
    change_list_template = "admin/alerts/alert/change_list.html"
    list_display = (
        "triggered_at", "kind", "status", "merchant", "sku", "location_code", "available",
        "threshold", "reorder_quantity", "message",
    )  # fmt: skip
    # Related-only filters list what the (merchant-scoped) rows point at, never other tenants.
    list_filter = (
        "status",
        "kind",
        ("merchant", admin.RelatedOnlyFieldListFilter),
        ("location", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("merchant", "product", "location")
    search_fields = ("message", "product__sku", "location__code")
    date_hierarchy = "triggered_at"
    actions = ("acknowledge", "resolve")
    readonly_fields = [field.name for field in Alert._meta.fields]

    @admin.display(description="SKU", ordering="product__sku")
    def sku(self, alert: Alert) -> str | None:
        return alert.product.sku if alert.product else None

    @admin.display(description="Location", ordering="location__code")
    def location_code(self, alert: Alert) -> str | None:
        return location_label(alert.location) if alert.location else None

    @admin.action(description="Acknowledge selected alerts", permissions=["change"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        done = sum(alert_acknowledge(alert=alert, actor=request.user) for alert in queryset)
        self.message_user(request, f"Acknowledged {done} alert(s).", messages.SUCCESS)

    @admin.action(description="Resolve selected alerts (not low stock)", permissions=["change"])
    def resolve(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        # Low-stock alerts resolve themselves when stock comes back above the threshold;
        # resolving one by hand would only re-raise it at the next evaluation.
        low = queryset.filter(kind__in=RESOLVED_BY_STOCK).count()
        done = sum(
            alert_resolve(alert=alert) for alert in queryset.exclude(kind__in=RESOLVED_BY_STOCK)
        )
        self.message_user(request, f"Resolved {done} alert(s).", messages.SUCCESS)
        if low:
            self.message_user(
                request,
                f"{low} low-stock alert(s) left open: they resolve when stock is replenished.",
                messages.WARNING,
            )
