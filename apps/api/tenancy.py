"""Which merchant a request acts for, and whether it may write.

- API key: the key's merchant; read-only keys may not write.
- Session (a signed-in user): the merchant of their membership. A user with several
  memberships chooses with the `X-Merchant: <code>` header or the `?merchant=<code>` query
  parameter. Viewers may not write. Managers limited to some locations read everything but
  change stock only at those locations (`request.location_scope`, None when unlimited).
"""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from apps.apikeys.models import ApiKey
from apps.locations.models import Location
from apps.merchants.models import Membership, Merchant

MERCHANT_HEADER = "X-Merchant"
MERCHANT_QUERY_PARAMETER = "merchant"


def membership_for(request: Request) -> Membership:
    chosen = (
        request.headers.get(MERCHANT_HEADER)
        or request.query_params.get(MERCHANT_QUERY_PARAMETER)
        or ""
    ).strip()
    memberships = Membership.objects.select_related("merchant").filter(
        user=request.user, merchant__is_active=True
    )
    if chosen:
        membership = memberships.filter(merchant__code=chosen).first()
        if membership is None:
            raise exceptions.NotFound(f"You are not a member of a merchant '{chosen}'.")
        return membership
    found = list(memberships[:2])
    if not found:
        raise exceptions.PermissionDenied("Your account is not a member of any merchant.")
    if len(found) > 1:
        raise exceptions.ValidationError(
            {
                MERCHANT_QUERY_PARAMETER: [
                    f"You are a member of several merchants: choose one with the "
                    f"'{MERCHANT_HEADER}: <code>' header or '?{MERCHANT_QUERY_PARAMETER}=<code>'."
                ]
            }
        )
    return found[0]


class MerchantAccess(permissions.BasePermission):
    """Resolves `request.merchant` (and `request.actor`, the acting user or API key, which
    the ledger records) and refuses writes by read-only credentials."""

    def has_permission(self, request: Request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            merchant: Merchant = request.auth.merchant
            read_only = request.auth.read_only
            why = "This API key is read-only."
            request.actor = request.auth
            request.location_scope = None
        elif request.user and request.user.is_authenticated:
            membership = membership_for(request)
            merchant = membership.merchant
            read_only = membership.role == Membership.Role.VIEWER
            why = "Viewers may not change anything."
            request.actor = request.user
            request.location_scope = _location_scope(membership)
        else:
            return False
        request.merchant = merchant
        if read_only and request.method not in permissions.SAFE_METHODS:
            raise exceptions.PermissionDenied(why)
        return True


def _location_scope(membership: Membership) -> frozenset[int] | None:
    if membership.role != Membership.Role.MANAGER:
        return None
    return frozenset(membership.locations.values_list("pk", flat=True)) or None


def require_locations(request: Request, locations: Iterable[Location]) -> None:
    """403 unless the credentials may change stock at every one of `locations`."""
    scope = getattr(request, "location_scope", None)
    if scope is None:
        return
    outside = sorted({location.code for location in locations if location.pk not in scope})
    if outside:
        raise exceptions.PermissionDenied(
            f"You work on a limited set of locations; {', '.join(outside)} is not among them."
        )


def require_all_locations(request: Request, what: str) -> None:
    """403 for managers limited to some locations (e.g. for changes to locations themselves)."""
    if getattr(request, "location_scope", None) is not None:
        raise exceptions.PermissionDenied(
            f"You work on a limited set of locations and may not {what}."
        )
