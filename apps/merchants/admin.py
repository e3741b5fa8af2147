"""Merchants and memberships. Superusers manage them; members see their own merchants and
(owners) who has access to them."""

from django.contrib import admin

from apps.inventory.admin_display import ScopedMerchantFilter
from apps.merchants.admin_scoping import ScopedAdminMixin, access_for
from apps.merchants.models import Membership, Merchant


@admin.register(Merchant)
class MerchantAdmin(ScopedAdminMixin, admin.ModelAdmin):
    merchant_field = "id"  # the merchant itself: visible to its members
    change_role = None  # superusers only (they pass every check below)
    list_display = ("code", "name", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("code", "name")

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        access = access_for(request.user)
        return queryset if access.is_superuser else queryset.filter(pk__in=access.merchants)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Membership)
class MembershipAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("user", "merchant", "role", "location_list", "created_at")
    list_select_related = ("user", "merchant")
    list_filter = ("role", ("merchant", ScopedMerchantFilter))
    search_fields = ("user__username", "user__email", "merchant__code")
    filter_horizontal = ("locations",)
    autocomplete_fields = ("user",)

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request).prefetch_related("locations")
        access = access_for(request.user)
        return queryset if access.is_superuser else queryset.filter(merchant_id__in=access.owned)

    def has_module_permission(self, request):
        access = access_for(request.user)
        return access.is_superuser or bool(access.owned)

    def has_view_permission(self, request, obj=None):
        access = access_for(request.user)
        if access.is_superuser:
            return True
        return bool(access.owned) and (obj is None or obj.merchant_id in access.owned)

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @admin.display(description="Locations")
    def location_list(self, membership: Membership) -> str:
        if membership.role != Membership.Role.MANAGER:
            return "—"
        codes = [location.code for location in membership.locations.all()]
        return ", ".join(codes) or "All locations"
