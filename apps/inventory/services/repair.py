"""Repair: put balances back to what the ledger says."""

from django.db import transaction
from django.db.models import Count, Sum

from apps.inventory.engine.levels import rebuild_bucket_balances, rebuild_level_balances
from apps.inventory.engine.locks import lock_buckets
from apps.inventory.models import BucketLedgerEntry, LedgerEntry


@transaction.atomic
def stock_level_rebuild_from_ledger(*, stock_level_id: int) -> dict[str, int]:
    """Recompute one level's quantities and version from its ledger, and each of its buckets'
    from the bucket ledger, and store them. The ledgers are append-only and are the truth;
    this writes no ledger row."""
    totals = LedgerEntry.objects.filter(stock_level_id=stock_level_id).aggregate(
        on_hand=Sum("on_hand_delta", default=0),
        reserved=Sum("reserved_delta", default=0),
        damaged=Sum("damaged_delta", default=0),
        in_transit=Sum("in_transit_delta", default=0),
        version=Count("id"),
    )
    rebuild_level_balances(stock_level_id, totals)  # locks the level first
    for bucket in lock_buckets(stock_level_id):
        bucket_totals = BucketLedgerEntry.objects.filter(bucket=bucket).aggregate(
            allotted=Sum("allotted_delta", default=0),
            reserved=Sum("reserved_delta", default=0),
            version=Count("id"),
        )
        if bucket_totals != {
            "allotted": bucket.allotted,
            "reserved": bucket.reserved,
            "version": bucket.version,
        }:
            rebuild_bucket_balances(bucket.pk, bucket_totals)
    return totals
