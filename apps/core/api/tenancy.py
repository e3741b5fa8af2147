"""Which merchant a request acts for, and whether it may write.

- API key: the key's merchant; read-only keys may not write.
- Session (a signed-in user): the merchant of their membership. A user with several
  memberships chooses with the `X-Merchant: <code>` header or the `?merchant=<code>` query
  parameter. Viewers may not write.
"""

from __future__ import annotations

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from apps.apikeys.models import ApiKey
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
    """Resolves `request.merchant` (and `request.actor`, the acting user or None for keys) and
    refuses writes by read-only credentials."""

    def has_permission(self, request: Request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            merchant: Merchant = request.auth.merchant
            read_only = request.auth.read_only
            why = "This API key is read-only."
            request.actor = None
        elif request.user and request.user.is_authenticated:
            membership = membership_for(request)
            merchant = membership.merchant
            read_only = membership.role == Membership.Role.VIEWER
            why = "Viewers may not change anything."
            request.actor = request.user
        else:
            return False
        request.merchant = merchant
        if read_only and request.method not in permissions.SAFE_METHODS:
            raise exceptions.PermissionDenied(why)
        return True
