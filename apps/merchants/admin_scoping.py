"""Who may see and change what in the admin: the one place that turns memberships into scopes.

Roles (apps.merchants.Membership):
- owner: sees and changes everything of the merchant (catalog, locations, stock).
- manager: sees and changes stock at the locations assigned (none assigned = every location of
  the merchant); sees the merchant's catalog; changes no catalog or location data.
- viewer: sees everything of the merchant, changes nothing.
Superusers see and change everything. Staff users without a membership see nothing.

Admin classes use `ScopedAdminMixin` (querysets and the has_*_permission answers) and the
functions below in every custom view, action and form choice, so that a hidden button is never
the only guard.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.http import HttpRequest

from apps.inventory.models import Reservation, ReservationLine
from apps.locations.models import Location
from apps.merchants.models import Membership, Merchant

Role = Membership.Role
_CACHE_ATTRIBUTE = "_stockroom_access"


@dataclass(frozen=True)
class Access:
    """A user's reach, read once per request from their memberships."""

    is_superuser: bool
    merchants: frozenset[int]  # any role: visible
    owned: frozenset[int]  # owner: catalog, locations and stock of the whole merchant
    all_locations: frozenset[int]  # merchants whose every location is visible (not limited)
    stock_merchants: frozenset[int]  # owner, or manager of every location: stock changes
    managed_locations: frozenset[int]  # a limited manager's locations (visible and changeable)

    @property
    def is_empty(self) -> bool:
        return not self.is_superuser and not self.merchants

    def owns(self, merchant_id: int) -> bool:
        return self.is_superuser or merchant_id in self.owned

    def changes_stock_at(self, location: Location) -> bool:
        return (
            self.is_superuser
            or location.merchant_id in self.stock_merchants
            or location.pk in self.managed_locations
        )

    @property
    def changes_any_stock(self) -> bool:
        return self.is_superuser or bool(self.stock_merchants or self.managed_locations)


def access_for(user) -> Access:
    """The user's Access, cached on the user object (one query per request)."""
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is not None:
        return cached
    if not (user.is_authenticated and user.is_active and user.is_staff):
        access = Access(False, *(frozenset(),) * 5)
    elif user.is_superuser:
        access = Access(True, *(frozenset(),) * 5)
    else:
        merchants: set[int] = set()
        owned: set[int] = set()
        all_locations: set[int] = set()
        stock_merchants: set[int] = set()
        managed: set[int] = set()
        memberships = Membership.objects.filter(user=user, merchant__is_active=True)
        for membership in memberships.prefetch_related("locations"):
            mid = membership.merchant_id
            merchants.add(mid)
            assigned = list(membership.locations.all())
            if membership.role == Role.OWNER:
                owned.add(mid)
                stock_merchants.add(mid)
                all_locations.add(mid)
            elif membership.role == Role.MANAGER and not assigned:
                stock_merchants.add(mid)
                all_locations.add(mid)
            elif membership.role == Role.MANAGER:
                # Only the merchant's own locations count, whatever was assigned by mistake.
                managed.update(loc.pk for loc in assigned if loc.merchant_id == mid)
            else:
                all_locations.add(mid)
        access = Access(
            False,
            frozenset(merchants),
            frozenset(owned),
            frozenset(all_locations),
            frozenset(stock_merchants),
            frozenset(managed),
        )
    setattr(user, _CACHE_ATTRIBUTE, access)
    return access


def merchant_access(merchant_id: int) -> Access:
    """The reach of a caller acting for one merchant without a user's memberships (an API
    key, whose every read covers its merchant): everything of that merchant, read-only."""
    merchant = frozenset({merchant_id})
    return Access(False, merchant, frozenset(), merchant, frozenset(), frozenset())


def location_q(
    access: Access, location_id: str, merchant_id: str = "merchant_id", *, changeable: bool = False
) -> Q:
    """A filter for rows at a visible (or, with `changeable`, a stock-changeable) location.
    `location_id` and `merchant_id` are the row's column paths ("location_id", "id", ...)."""
    if access.is_superuser:
        return Q()
    merchants = access.stock_merchants if changeable else access.all_locations
    return Q(**{f"{merchant_id}__in": merchants}) | Q(
        **{f"{location_id}__in": access.managed_locations}
    )


def merchants_visible(user) -> QuerySet[Merchant]:
    access = access_for(user)
    queryset = Merchant.objects.all()
    return queryset if access.is_superuser else queryset.filter(pk__in=access.merchants)


def merchants_owned(user) -> QuerySet[Merchant]:
    access = access_for(user)
    queryset = Merchant.objects.all()
    return queryset if access.is_superuser else queryset.filter(pk__in=access.owned)


def locations_visible(user) -> QuerySet[Location]:
    return Location.objects.filter(location_q(access_for(user), "id")).select_related("merchant")


def locations_changeable(user) -> QuerySet[Location]:
    """Locations where the user may change stock."""
    access = access_for(user)
    return Location.objects.filter(location_q(access, "id", changeable=True)).select_related(
        "merchant"
    )


def transfer_destinations(user) -> QuerySet[Location]:
    """Where a user may send stock: any location of a merchant at which they change stock."""
    access = access_for(user)
    queryset = Location.objects.select_related("merchant")
    if access.is_superuser:
        return queryset
    merchant_ids = access.stock_merchants | set(
        Location.objects.filter(pk__in=access.managed_locations).values_list(
            "merchant_id", flat=True
        )
    )
    return queryset.filter(merchant_id__in=merchant_ids)


class ScopedAdminMixin:
    """Scopes a ModelAdmin's queryset and answers its permissions from the user's role, so a
    manager or viewer account needs no hand-assigned Django permissions.

    `merchant_field`: the merchant foreign key ("merchant"); `location_fields`: location id
    columns ("location_id"); a row is visible when any of them is a visible location. `change_role` says who may use
    the model's change form: "owner", "stock" (owners and managers), or None (nobody: the
    model is read-only or changes only through service-backed views). Superusers get Django's
    usual answers within the same read-only rules.
    """

    merchant_field: str = "merchant"
    location_fields: tuple[str, ...] = ()
    change_role: str | None = "owner"
    allow_add: bool = True
    allow_delete: bool = True
    stock_actions: tuple[str, ...] = ()  # actions offered only to users who change stock

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        return scope_queryset(queryset, request.user, self.merchant_field, self.location_fields)

    def _access(self, request: HttpRequest) -> Access:
        return access_for(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return not self._access(request).is_empty

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        access = self._access(request)
        if access.is_empty:
            return False
        return obj is None or self.object_visible(request, obj)

    def object_visible(self, request: HttpRequest, obj: Model) -> bool:
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def _may_change(self, request: HttpRequest, obj: Model | None) -> bool:
        access = self._access(request)
        if self.change_role is None or access.is_empty:
            return False
        if access.is_superuser:
            return True
        if self.change_role == "owner":
            if obj is None:
                return bool(access.owned)
            return access.owns(_merchant_id(obj, self.merchant_field))
        if self.change_role == "stock":
            return access.changes_any_stock
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may_change(request, obj)

    def has_add_permission(self, request: HttpRequest, *args) -> bool:
        return self.allow_add and self._may_change(request, None)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.allow_delete and self._may_change(request, obj)

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        if not self._access(request).changes_any_stock:
            for name in self.stock_actions:
                actions.pop(name, None)
        return actions

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        """Merchant choices are the merchants the user owns; location choices the locations
        the user changes; product choices the products of visible merchants."""
        model = db_field.related_model
        if model is Merchant:
            kwargs["queryset"] = merchants_owned(request.user)
        elif model is Location:
            kwargs["queryset"] = locations_changeable(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def _merchant_id(obj: Model, field: str) -> int:
    return getattr(obj, f"{field}_id")


def scope_queryset(
    queryset: QuerySet, user, merchant_field: str = "merchant", location_fields=()
) -> QuerySet:
    """Rows of `queryset` the user may see: of a visible merchant and, for a limited manager,
    at one of their locations (any of `location_fields`)."""
    access = access_for(user)
    if access.is_superuser:
        return queryset
    if access.is_empty:
        return queryset.none()
    if not location_fields:
        return queryset.filter(**{f"{merchant_field}_id__in": access.merchants})
    condition = Q()
    for field in location_fields:
        condition |= location_q(access, field, f"{merchant_field}_id")
    return queryset.filter(condition)


def reservations_visible(
    queryset: QuerySet[Reservation], user=None, *, access: Access | None = None
) -> QuerySet[Reservation]:
    """Reservations of a fully visible merchant, or holding stock at a visible location, for
    `user` (or the reach `access`)."""
    access = access if access is not None else access_for(user)
    if access.is_superuser:
        return queryset
    at_my_location = ReservationLine.objects.filter(
        reservation_id=OuterRef("pk"), location_id__in=access.managed_locations
    )
    return queryset.filter(Q(merchant_id__in=access.all_locations) | Q(Exists(at_my_location)))


def admin_context(request: HttpRequest, **extra) -> dict:
    """The context every admin page template expects (site header, nav sidebar, ...)."""
    return {**admin.site.each_context(request), **extra}
