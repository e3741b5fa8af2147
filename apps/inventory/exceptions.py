"""Refusals of the stock engine, beside the general ones of `apps.core.errors`
(InvalidRequest, ObjectNotFound, InvalidState, IdempotencyKeyReused).

Each carries the exact figures a caller needs (what was asked, what was there, what to do), a
stable `code` and the HTTP status an interface answers with; a refused call has changed
nothing, ledger included.
"""

from dataclasses import asdict, dataclass
from typing import Any

from apps.core.errors import DomainError


class InventoryError(DomainError):
    """A refusal of the stock engine (also raised as such when the books disagree)."""

    code = "inventory_error"
    title = "Inventory operation refused"


@dataclass(frozen=True)
class Shortage:
    sku: str
    location: str | None
    requested: int
    available: int


class InsufficientStock(InventoryError):
    code = "insufficient_stock"
    title = "Insufficient stock"

    def __init__(self, shortages: list[Shortage]) -> None:
        parts = [
            f"{s.sku} at {s.location or 'any active location'}: requested {s.requested}, "
            f"available {s.available}"
            for s in shortages
        ]
        super().__init__(
            "Not enough stock. "
            + "; ".join(parts)
            + ". Lower the quantity, pick another location, or receive stock first.",
            lines=[asdict(s) for s in shortages],
        )
        self.shortages = shortages


class CountBelowReserved(InventoryError):
    code = "count_below_reserved"
    title = "Count is below reserved units"

    def __init__(self, *, sku: str, location: str, counted: int, reserved: int) -> None:
        super().__init__(
            f"{sku} at {location}: counted {counted} but {reserved} units are reserved. "
            "Release or commit those reservations, then record the count.",
            sku=sku,
            location=location,
            counted=counted,
            reserved=reserved,
        )


class ExceedsMaxLevel(InventoryError):
    code = "exceeds_max_level"
    title = "Receipt exceeds the maximum level"

    def __init__(self, *, sku: str, location: str, requested: int, on_hand: int, max_level: int):
        room = max(max_level - on_hand, 0)
        super().__init__(
            f"{sku} at {location}: receiving {requested} would bring on hand to "
            f"{on_hand + requested}, above the maximum of {max_level}. At most {room} fit; "
            "receive fewer or raise the maximum level.",
            sku=sku,
            location=location,
            requested=requested,
            on_hand=on_hand,
            max_level=max_level,
            room=room,
        )


class VersionConflict(InventoryError):
    """The caller's expected version (compare-and-set) is stale."""

    code = "version_conflict"
    title = "Stock level changed since you read it"
    http_status = 412

    def __init__(self, *, sku: str, location: str, expected_version: int, current: dict[str, Any]):
        super().__init__(
            f"{sku} at {location}: expected version {expected_version}, current version is "
            f"{current['version']}. Read the level again and retry with the current version.",
            sku=sku,
            location=location,
            expected_version=expected_version,
            current=current,
        )
        self.current = current


class LocationUnavailable(InventoryError):
    code = "location_unavailable"
    title = "Location does not take reservations"

    def __init__(self, *, location: str, status: str) -> None:
        super().__init__(
            f"Location {location} is {status} and takes no new reservations. "
            "Reserve at an active location or leave the location out to allocate automatically.",
            location=location,
            status=status,
        )


class ProductInactive(InventoryError):
    code = "product_inactive"
    title = "Product is inactive"

    def __init__(self, *, sku: str) -> None:
        super().__init__(
            f"Product {sku} is inactive and cannot be reserved or sold. Reactivate it first.",
            sku=sku,
        )
