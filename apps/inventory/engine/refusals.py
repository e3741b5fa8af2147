"""Why a movement was refused, told from the rows as they are now: the domain error with the
exact figures (what was asked, what was there)."""

from __future__ import annotations

from collections.abc import Sequence

from apps.inventory.engine.changes import Movement
from apps.inventory.exceptions import (
    CountBelowReserved,
    ExceedsMaxLevel,
    InsufficientStock,
    InventoryError,
    Shortage,
    VersionConflict,
)
from apps.inventory.models import MAX_QUANTITY, LedgerEntry, StockLevel

Reason = LedgerEntry.Reason


def raise_refusal(failed: Sequence[Movement]) -> None:
    """Explain why movements updated nothing, from the rows as they are now (still locked or
    unchanged by this transaction), and raise the matching domain error."""
    levels = {
        level.pk: level
        for level in StockLevel.objects.with_buckets()
        .select_related("product", "location")
        .filter(pk__in=[m.stock_level_id for m in failed])
    }
    shortages: list[Shortage] = []
    for m in failed:
        level = levels.get(m.stock_level_id)
        if level is None:
            raise InventoryError(
                f"Stock level {m.stock_level_id} does not exist for this merchant."
            )
        sku, code = level.product.sku, level.location.code
        if m.expected_version is not None and level.version != m.expected_version:
            raise VersionConflict(
                sku=sku,
                location=code,
                expected_version=m.expected_version,
                current=level_figures(level),
            )
        if m.expected_on_hand is not None and level.on_hand != m.expected_on_hand:
            raise VersionConflict(
                sku=sku, location=code, expected_version=level.version, current=level_figures(level)
            )
        if (
            m.respect_max_level
            and level.max_level is not None
            and level.on_hand + m.on_hand > level.max_level
        ):
            raise ExceedsMaxLevel(
                sku=sku,
                location=code,
                requested=m.requested,
                on_hand=level.on_hand,
                max_level=level.max_level,
            )
        if (
            max(
                level.on_hand + m.on_hand,
                level.damaged + m.damaged,
                level.in_transit + m.in_transit,
            )
            > MAX_QUANTITY
        ):
            raise ExceedsMaxLevel(
                sku=sku,
                location=code,
                requested=m.requested,
                on_hand=level.on_hand,
                max_level=MAX_QUANTITY,
            )
        if m.reason == Reason.COUNT:
            raise CountBelowReserved(
                sku=sku, location=code, counted=level.on_hand + m.on_hand, reserved=level.held
            )
        shortages.append(_shortage(m, level))
    raise InsufficientStock(shortages)


def _shortage(m: Movement, level: StockLevel) -> Shortage:
    """The refused movement's figures (apps.inventory.figures): the level's available, and
    the figure that limited it when that is not available: reservations respect the safety
    stock; physical moves (sales, damage, transfers, adjustments) may take any unreserved
    unit (`movable`). Free units in the level's buckets count (`level` is loaded with them),
    since they would have been drained."""
    figures = {
        "sku": level.product.sku,
        "location": level.location.code,
        "requested": m.requested,
        "available": level.available,
    }
    if m.respect_safety_stock:
        return Shortage(**figures)
    if m.damaged < 0:
        return Shortage(**figures, damaged=level.damaged)
    if m.in_transit < 0:
        return Shortage(**figures, in_transit=level.in_transit)
    if m.reserved < 0:
        return Shortage(**figures, reserved=level.held)
    return Shortage(**figures, movable=level.movable)


def level_figures(level: StockLevel) -> dict[str, int]:
    return {
        "on_hand": level.on_hand,
        "reserved": level.held,
        "available": level.available,
        "damaged": level.damaged,
        "in_transit": level.in_transit,
        "safety_stock": level.safety_stock,
        "version": level.version,
    }
