"""Location writes. Locations carry no quantities; stock lives in apps.inventory, which has its
say through the hook below (connected in InventoryConfig.ready())."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.core.errors import InvalidRequest
from apps.core.hooks import Hook
from apps.core.unique_save import save_unique
from apps.locations.models import Location
from apps.merchants.models import Merchant

LOCATION_FIELDS = (
    "code", "name", "kind", "address", "city", "country", "timezone", "capacity", "latitude",
    "longitude", "status", "priority",
)  # fmt: skip
# Sent in the transaction of the deletion, with `location`; a receiver refuses it by raising
# (e.g. while the location holds stock).
location_deleting = Hook("location deleting")
# Sent in the transaction of an update, with `location` (its status, code and priority are
# part of every availability answer at its merchant).
location_changed = Hook("location changed")


@transaction.atomic
def location_create(*, merchant: Merchant, **fields: Any) -> Location:
    location = Location(merchant=merchant, **_known(fields))
    save_unique(
        location, field="code", message=f"A location with code {location.code} already exists."
    )
    return location


@transaction.atomic
def location_update(*, location: Location, **fields: Any) -> Location:
    """Update a location. Setting `status` to inactive or maintenance stops new reservations
    there; existing stock and reservations are untouched."""
    changes = _known(fields)
    for name, value in changes.items():
        setattr(location, name, value)
    save_unique(
        location,
        field="code",
        message=f"A location with code {location.code} already exists.",
        update_fields=[*changes, "updated_at"],
    )
    location_changed.send(location=location)
    return location


@transaction.atomic
def location_delete(*, location: Location) -> None:
    """Delete a location that never held stock. Refused (409, by the inventory's
    `location_deleting` receiver) while it has stock, active reservations, open transfers or
    stock history: set its status to inactive instead."""
    location_deleting.send(location=location)
    location.delete()


def _known(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(LOCATION_FIELDS)
    if unknown:
        raise InvalidRequest(f"Unknown field {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    return fields
