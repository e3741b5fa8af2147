"""Refusals of the stock engine, beside the general ones of `apps.core.errors`
(InvalidRequest, ObjectNotFound, InvalidState, IdempotencyKeyReused).

Each carries the exact figures a caller needs (what was asked, what was there, what to do), a
stable `code` and the HTTP status an interface answers with; a refused call has changed
nothing, ledger included.
"""

from dataclasses import asdict, dataclass
from typing import Any

from apps.core.errors import DomainError
from apps.inventory.figures import shortage_text


class InventoryError(DomainError):
    """A refusal of the stock engine (also raised as such when the books disagree)."""

    code = "inventory_error"
    title = "Inventory operation refused"


@dataclass(frozen=True)
class Shortage:
    """One refused line, in the vocabulary of `apps.inventory.figures`: `available` is always
    the level's available (as the stock list and the API show it). The figure that limited a
    move that is not a reservation comes with it: `movable` for a physical move, `damaged`
    for a write-off, `in_transit` for a transfer's receipt, `reserved` for a reservation's
    close, `with_substitutes` for a reservation line allowing substitutes. The others stay
    None (and out of the problem+json line)."""

    sku: str
    location: str | None
    requested: int
    available: int
    movable: int | None = None
    damaged: int | None = None
    in_transit: int | None = None
    reserved: int | None = None
    # A line allowing substitutes: the units of the SKU its substitutes could stand in for.
    with_substitutes: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            name: value
            for name, value in asdict(self).items()
            if value is not None or name == "location"
        }


class InsufficientStock(InventoryError):
    code = "insufficient_stock"
    title = "Insufficient stock"

    def __init__(self, shortages: list[Shortage]) -> None:
        super().__init__(
            "Not enough stock. "
            + "; ".join(shortage_text(s) for s in shortages)
            + ". Lower the quantity, pick another location, or receive stock first.",
            lines=[s.as_dict() for s in shortages],
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


class CountedSince(InventoryError):
    """A change stated as of a past moment (a late sale, receipt, return or count) that a
    count taken after that moment already reflects: applying it would count it twice."""

    code = "counted_since"
    title = "A later count already reflects this"

    def __init__(self, *, sku: str, location: str, occurred_at: str, counted_at: str) -> None:
        super().__init__(
            f"{sku} at {location}: this happened at {occurred_at}, and a count taken at "
            f"{counted_at} already reflects it. Nothing was changed; nothing needs resending.",
            sku=sku,
            location=location,
            occurred_at=occurred_at,
            counted_at=counted_at,
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


class StockRemains(InventoryError):
    """A stock level asked to be removed from the records still holds units."""

    code = "stock_remains"
    title = "The inventory record still holds stock"

    def __init__(
        self, *, sku: str, location: str, on_hand: int, reserved: int, damaged: int, in_transit: int
    ) -> None:
        held = {"on hand": on_hand, "reserved": reserved, "damaged": damaged,
                "in transit": in_transit}  # fmt: skip
        figures = ", ".join(f"{units} {name}" for name, units in held.items() if units)
        super().__init__(
            f"{sku} at {location} still holds {figures}. Only an empty record can be removed: "
            "ship, count or adjust on hand to zero, commit or release its reservations, write "
            "off the damaged units and receive the transfers on their way, then remove it.",
            sku=sku,
            location=location,
            on_hand=on_hand,
            reserved=reserved,
            damaged=damaged,
            in_transit=in_transit,
        )


@dataclass(frozen=True)
class Unreturnable:
    """A SKU of a return asking for more than its reservation sold and has not taken back."""

    sku: str
    requested: int
    committed: int
    returned: int

    @property
    def returnable(self) -> int:
        return self.committed - self.returned

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "returnable": self.returnable}


class ReturnExceedsCommitted(InventoryError):
    """A return (or a cancellation after commit) of more units than the reservation sold, less
    those already returned."""

    code = "return_exceeds_committed"
    title = "Return exceeds what was sold"

    def __init__(self, *, reservation: str, lines: list[Unreturnable]) -> None:
        super().__init__(
            f"Reservation {reservation} cannot take this return. "
            + "; ".join(
                f"{line.sku}: returning {line.requested}, sold {line.committed}, "
                f"{line.returned} returned already, so at most {line.returnable}"
                for line in lines
            )
            + ". Return at most what is left; nothing was changed.",
            reservation=reservation,
            lines=[line.as_dict() for line in lines],
        )
