from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.alerts.models import Alert
from apps.alerts.services import alert_acknowledge, alert_resolve
from apps.merchants.models import Membership, Merchant


class MerchantScopedAdminMixin:
    """Staff who are not superusers see, and may only pick, the merchants they own or manage."""

    merchant_lookup = "merchant"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(
            **{f"{self.merchant_lookup}__memberships__user": request.user}
        ).distinct()

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "merchant" and not request.user.is_superuser:
            kwargs["queryset"] = Merchant.objects.filter(
                memberships__user=request.user,
                memberships__role__in=[Membership.Role.OWNER, Membership.Role.MANAGER],
            ).distinct()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Alert)
class AlertAdmin(MerchantScopedAdminMixin, admin.ModelAdmin):
    change_list_template = "admin/alerts/alert/change_list.html"
    list_display = (
        "triggered_at", "kind", "status", "merchant", "product", "location", "available",
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Alert | None = None) -> bool:
        return False

    @admin.action(description="Acknowledge selected alerts", permissions=["change"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        done = sum(alert_acknowledge(alert=alert, actor=request.user) for alert in queryset)
        self.message_user(request, f"Acknowledged {done} alert(s).", messages.SUCCESS)

    @admin.action(description="Resolve selected alerts (not low stock)", permissions=["change"])
    def resolve(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        # Low-stock alerts resolve themselves when stock comes back above the threshold;
        # resolving one by hand would only re-raise it at the next evaluation.
        low = queryset.filter(kind=Alert.Kind.LOW_STOCK).count()
        done = sum(
            alert_resolve(alert=alert) for alert in queryset.exclude(kind=Alert.Kind.LOW_STOCK)
        )
        self.message_user(request, f"Resolved {done} alert(s).", messages.SUCCESS)
        if low:
            self.message_user(
                request,
                f"{low} low-stock alert(s) left open: they resolve when stock is replenished.",
                messages.WARNING,
            )
