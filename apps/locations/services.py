"""Location writes. Locations carry no quantities; stock lives in apps.inventory."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q

from apps.core.unique_save import save_unique
from apps.inventory import availability_cache
from apps.inventory.exceptions import InvalidRequest, InvalidState
from apps.inventory.models import LedgerEntry, Reservation, ReservationLine, StockLevel, Transfer
from apps.locations.models import Location
from apps.merchants.models import Merchant

LOCATION_FIELDS = ("code", "name", "kind", "address", "latitude", "longitude", "status", "priority")


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
    # Status, code and priority are part of every availability answer at this merchant.
    availability_cache.invalidate_after_commit(merchant_ids=[location.merchant_id])
    return location


@transaction.atomic
def location_delete(*, location: Location) -> None:
    """Delete a location that never held stock. Refused (409) while it has stock, active
    reservations, open transfers or stock history: set its status to inactive instead."""
    if (
        StockLevel.objects.filter(location=location)
        .filter(Q(on_hand__gt=0) | Q(reserved__gt=0) | Q(damaged__gt=0) | Q(in_transit__gt=0))
        .exists()
    ):
        raise InvalidState(
            f"Location {location.code} still holds stock. Move or count it to zero, or set the "
            "location's status to inactive instead.",
            status="stocked",
        )
    if ReservationLine.objects.filter(
        location=location, reservation__status=Reservation.Status.ACTIVE
    ).exists():
        raise InvalidState(f"Location {location.code} has active reservations.", status="reserved")
    if (
        Transfer.objects.filter(Q(source_location=location) | Q(destination_location=location))
        .exclude(status__in=[Transfer.Status.RECEIVED, Transfer.Status.CANCELLED])
        .exists()
    ):
        raise InvalidState(f"Location {location.code} has open transfers.", status="in_transfer")
    if (
        LedgerEntry.objects.filter(location=location).exists()
        or Transfer.objects.filter(
            Q(source_location=location) | Q(destination_location=location)
        ).exists()
    ):
        raise InvalidState(
            f"Location {location.code} has stock history, which must stay auditable. Set its "
            "status to inactive instead.",
            status="has_history",
        )
    StockLevel.objects.filter(location=location).delete()
    location.delete()


def _known(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(LOCATION_FIELDS)
    if unknown:
        raise InvalidRequest(f"Unknown field {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    return fields
