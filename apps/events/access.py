"""Who may watch which stock stream: the merchant and locations a websocket may subscribe to."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from apps.locations.models import Location
from apps.merchants.models import Membership, Merchant


@dataclass(frozen=True)
class StreamAccess:
    merchant_id: int
    # None: every location of the merchant (owners, viewers, unrestricted managers, API keys).
    location_ids: frozenset[int] | None


def _merchant_matches(merchant: Merchant, wanted: str | None) -> bool:
    return wanted in (None, "", str(merchant.pk), merchant.code)


def stream_access(*, user: Any, api_key: Any, merchant: str | None) -> StreamAccess | None:
    """The access of an API key (its merchant, every location) or of a signed-in user (a
    merchant they belong to, chosen by id or code when they belong to several; a manager
    limited to some locations sees only those). None when neither may watch."""
    if api_key is not None:
        if not _merchant_matches(api_key.merchant, merchant):
            return None
        return StreamAccess(merchant_id=api_key.merchant.pk, location_ids=None)
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    memberships = [
        m
        for m in Membership.objects.filter(user=user).select_related("merchant")
        if _merchant_matches(m.merchant, merchant) and m.merchant.is_active
    ]
    if len(memberships) == 1:
        membership = memberships[0]
        assigned = list(membership.locations.values_list("pk", "merchant_id"))
        if membership.role != Membership.Role.MANAGER or not assigned:
            return StreamAccess(merchant_id=membership.merchant_id, location_ids=None)
        # A limited manager: only the merchant's own locations count, whatever was assigned.
        return StreamAccess(
            merchant_id=membership.merchant_id,
            location_ids=frozenset(pk for pk, mid in assigned if mid == membership.merchant_id),
        )
    if not memberships and user.is_superuser and merchant:
        lookup = {"pk": int(merchant)} if merchant.isdigit() else {"code": merchant}
        found = Merchant.objects.filter(**lookup).first()
        return StreamAccess(merchant_id=found.pk, location_ids=None) if found else None
    return None


def resolve_locations(
    access: StreamAccess, wanted: Collection[str]
) -> frozenset[int] | bool | None:
    """Location ids for a subscription to `wanted` (ids or codes; empty = every location the
    access allows). Returns False when a wanted location is unknown or not allowed."""
    if not wanted:
        return access.location_ids
    ids = {int(w) for w in wanted if w.isdigit()}
    codes = {w for w in wanted if not w.isdigit()}
    found = {
        pk
        for pk, code in Location.objects.filter(merchant_id=access.merchant_id).values_list(
            "pk", "code"
        )
        if pk in ids or code in codes
    }
    if len(found) != len(set(wanted)):
        return False
    if access.location_ids is not None and not found <= access.location_ids:
        return False
    return frozenset(found)
