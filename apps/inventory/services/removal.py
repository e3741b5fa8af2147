"""Removing an empty stock level from the merchant's inventory records (the level row and its
ledger stay: the history is never deleted)."""

from __future__ import annotations

from django.db import transaction

from apps.core import idempotency
from apps.core.errors import ObjectNotFound
from apps.inventory.engine.levels import configure_level
from apps.inventory.engine.locks import lock_levels
from apps.inventory.exceptions import StockRemains
from apps.inventory.models import Source, StockLevelRemoval
from apps.inventory.services.stock import (
    Actor,
    StockChangeResult,
    movement_context,
    replay_entries,
)
from apps.merchants.models import Merchant

# A level's settings as a new level has them: what removing a level puts back.
LEVEL_DEFAULTS: dict[str, int | None] = {
    "safety_stock": 0, "low_stock_threshold": 0, "reorder_point": 0, "max_level": None,
    "bucket_count": 0,
}  # fmt: skip


@transaction.atomic
def stock_level_remove(
    *,
    merchant: Merchant,
    stock_level_id: int,
    actor: Actor,
    idempotency_key: str,
    source: str = Source.SYSTEM,
) -> StockChangeResult:
    """Remove an empty stock level from the merchant's inventory records (it no longer lists
    among a location's records). Refused with StockRemains (409, with the figures) while it
    holds units on hand, reserved, damaged or in transit; ObjectNotFound when it is not the
    merchant's or is removed already.

    Its settings go back to their defaults first, when any differs (a `configure` ledger row,
    so the history shows it and a low-stock alert on it resolves); then the level is recorded
    as removed at its version (`StockLevelRemoval`), under its row lock. Its ledger stays: the
    level's next change (a receipt, a transfer in) brings it back, as a new level would be."""
    key = idempotency.validate_key(idempotency_key)
    previous = idempotency.claim(
        merchant_id=merchant.pk,
        key=key,
        operation="stock.remove",
        request={"stock_level": stock_level_id},
        result={},
    )
    if previous is not None:
        return StockChangeResult(entries=replay_entries(merchant, previous), replayed=True)
    level = lock_levels([stock_level_id]).get(stock_level_id)
    if (
        level is None
        or level.merchant_id != merchant.pk
        or StockLevelRemoval.objects.filter(stock_level=level, version=level.version).exists()
    ):
        raise ObjectNotFound(
            f"Inventory record {stock_level_id} not found.", inventory_id=stock_level_id
        )
    if level.on_hand or level.reserved or level.damaged or level.in_transit:
        raise StockRemains(
            sku=level.product.sku,
            location=level.location.code,
            on_hand=level.on_hand,
            reserved=level.reserved,
            damaged=level.damaged,
            in_transit=level.in_transit,
        )
    ctx = movement_context(merchant, actor, source, key)
    reset = {name: value for name, value in LEVEL_DEFAULTS.items() if getattr(level, name) != value}
    entries = [configure_level(level.pk, reset, ctx, expected_version=None)] if reset else []
    StockLevelRemoval.objects.create(
        merchant=merchant,
        stock_level=level,
        version=entries[0].version_after if entries else level.version,
        actor_id=ctx.actor_id,
        actor_api_key_id=ctx.api_key_id,
        actor_api_key_name=ctx.api_key_name,
        source=source,
        created_at=ctx.at,
    )
    return StockChangeResult(entries=entries)
