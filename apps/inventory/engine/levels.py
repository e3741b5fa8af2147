"""A stock level's settings (safety stock, thresholds, max level, bucket count) and its repair
from the ledger."""

from __future__ import annotations

from django.utils import timezone

from apps.inventory.engine.buckets import drain_plan, rebalance_plan
from apps.inventory.engine.changes import MovementContext
from apps.inventory.engine.locks import lock_buckets, lock_levels
from apps.inventory.engine.movements import move_allotments
from apps.inventory.engine.notify import after_commit
from apps.inventory.engine.refusals import level_figures
from apps.inventory.exceptions import VersionConflict
from apps.inventory.models import LedgerEntry, OutboxEvent, StockBucket, StockLevel
from apps.inventory.outbox import STOCK_CHANGED

Reason = LedgerEntry.Reason


def configure_level(
    level_id: int,
    settings: dict[str, int | None],
    ctx: MovementContext,
    *,
    expected_version: int | None,
) -> LedgerEntry:
    """Change safety stock / thresholds / max level of one level under its row lock, bump the
    version and write a CONFIGURE ledger row (zero deltas) so the history shows the change."""
    level = lock_levels([level_id])[level_id]
    if expected_version is not None and level.version != expected_version:
        names = StockLevel.objects.values("product__sku", "location__code").get(pk=level_id)
        raise VersionConflict(
            sku=names["product__sku"],
            location=names["location__code"],
            expected_version=expected_version,
            current=level_figures(level),
        )
    for field, value in settings.items():
        setattr(level, field, value)
    level.version += 1  # safe: the row is locked by this transaction
    level.save(update_fields=[*settings.keys(), "version", "updated_at"])
    entry = LedgerEntry.objects.create(
        merchant_id=ctx.merchant_id,
        stock_level_id=level.pk,
        product_id=level.product_id,
        location_id=level.location_id,
        reason=Reason.CONFIGURE,
        on_hand_after=level.on_hand,
        reserved_after=level.reserved,
        damaged_after=level.damaged,
        in_transit_after=level.in_transit,
        safety_stock_after=level.safety_stock,
        version_after=level.version,
        actor_id=ctx.actor_id,
        actor_api_key_id=ctx.api_key_id,
        actor_api_key_name=ctx.api_key_name,
        source=ctx.source,
        note=", ".join(f"{k}={v}" for k, v in settings.items()),
        idempotency_key=ctx.idempotency_key,
        created_at=ctx.at,
    )
    OutboxEvent.objects.create(
        merchant_id=ctx.merchant_id, topic=STOCK_CHANGED, ledger_entry=entry, created_at=ctx.at
    )
    after_commit([level.product_id])
    if "bucket_count" in settings or "safety_stock" in settings:
        _settle_buckets(level.pk, ctx)
    return entry


def _settle_buckets(level_id: int, ctx: MovementContext) -> None:
    """After a settings change, under the level's lock: create the buckets its count asks for,
    give back the free bucket units that sit in the safety stock, then spread all of the
    level's reservable units evenly over its active buckets (bucketing on), or leave none in
    any bucket (off)."""
    level = StockLevel.objects.get(pk=level_id)
    if level.bucket_count > 0:
        StockBucket.objects.bulk_create(
            [StockBucket(stock_level_id=level_id, number=n) for n in range(level.bucket_count)],
            ignore_conflicts=True,
        )
    buckets = lock_buckets(level_id)
    if not buckets:
        return
    deficit = level.safety_stock - (level.on_hand - level.reserved)
    units = min(deficit, sum(b.free for b in buckets))
    if units > 0:
        move_allotments(level_id, drain_plan(level, buckets, units), ctx)
        level = StockLevel.objects.get(pk=level_id)
        buckets = lock_buckets(level_id)
    if level.bucket_count > 0:
        deltas = rebalance_plan(level, buckets)
    else:
        deltas = {b.pk: -b.free for b in buckets if b.free}
    move_allotments(level_id, deltas, ctx)


def rebuild_level_balances(level_id: int, balances: dict[str, int]) -> None:
    """Overwrite one level's quantities with balances replayed from its ledger (repair tool).
    Locks the row; writes no ledger row, because the ledger is the truth being restored."""
    lock_levels([level_id])
    StockLevel.objects.filter(pk=level_id).update(**balances, updated_at=timezone.now())


def rebuild_bucket_balances(bucket_id: int, balances: dict[str, int]) -> None:
    """Overwrite one bucket's quantities with balances replayed from its bucket ledger (repair
    tool; no ledger row). Call with its level locked first."""
    StockBucket.objects.filter(pk=bucket_id).update(**balances)
