"""Assertions shared by the inventory tests."""

from __future__ import annotations

from apps.core.models import IdempotencyRecord
from apps.inventory.models import (
    BucketLedgerEntry,
    LedgerEntry,
    OutboxEvent,
    ReservationLine,
    StockBucket,
    StockLevel,
)


def snapshot() -> tuple:
    """Everything a refused call must leave untouched."""
    levels = tuple(
        StockLevel.objects.order_by("pk").values_list(
            "pk", "on_hand", "reserved", "damaged", "in_transit", "safety_stock", "version"
        )
    )
    buckets = tuple(
        StockBucket.objects.order_by("pk").values_list("pk", "allotted", "reserved", "version")
    )
    return (
        levels,
        buckets,
        LedgerEntry.objects.count(),
        BucketLedgerEntry.objects.count(),
        OutboxEvent.objects.count(),
        IdempotencyRecord.objects.count(),
        ReservationLine.objects.count(),
    )


def figures(level: StockLevel) -> tuple[int, int, int, int, int]:
    level.refresh_from_db()
    return (level.on_hand, level.reserved, level.available, level.damaged, level.in_transit)
