"""Location writes. Locations carry no quantities; stock lives in apps.inventory, which has its
say through the hook below (connected in InventoryConfig.ready())."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.text import slugify

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
# Words of the API under warehouses/ (POST warehouses/transfer): never generated as codes.
RESERVED_CODES = frozenset({"transfer"})
CODE_ATTEMPTS = 5


@transaction.atomic
def location_create(*, merchant: Merchant, **fields: Any) -> Location:
    """Create a location; a code already used by this merchant is refused on the `code` field.
    Without a code, one is made from the name (`location_code_generate`)."""
    fields = _known(fields)
    if fields.get("code"):
        location = Location(merchant=merchant, **fields)
        save_unique(
            location, field="code", message=f"A location with code {location.code} already exists."
        )
        return location
    for _ in range(CODE_ATTEMPTS):
        code = location_code_generate(merchant=merchant, name=fields.get("name", ""))
        location = Location(merchant=merchant, **{**fields, "code": code})
        try:
            save_unique(location, field="code", message="This code is taken.")
        except InvalidRequest:
            continue  # taken meanwhile by a concurrent create: look again
        return location
    raise InvalidRequest("Could not find an unused location code; send one.", field="code")


def location_code_generate(*, merchant: Merchant, name: str) -> str:
    """An unused code for a location called `name`: its slug (at most 40 characters;
    `location` when nothing is left), or the slug with the first free number
    (`main-warehouse-2`)."""
    stem = slugify(name)[:40].strip("-") or "location"
    taken = (
        set(
            Location.objects.filter(merchant=merchant, code__startswith=stem).values_list(
                "code", flat=True
            )
        )
        | RESERVED_CODES
    )
    if stem not in taken:
        return stem
    number = 2
    while f"{stem}-{number}" in taken:
        number += 1
    return f"{stem}-{number}"


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
