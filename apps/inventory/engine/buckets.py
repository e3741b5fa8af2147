"""Stock buckets (opt-in per level, see docs/stock-model.md): rows that hold part of a level's
reservable units, so that one-line reservations can take them without locking the level row.
Here: bucket changes with their own ledger, and the plans that move free units between a level
and its buckets (applied by `movements.move_allotments`). Levels are always locked before
their buckets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import F, Sum

from apps.inventory.engine import statements
from apps.inventory.engine.changes import BucketChange, MovementContext
from apps.inventory.engine.notify import after_commit
from apps.inventory.exceptions import InventoryError
from apps.inventory.models import StockBucket, StockLevel


def apply_bucket_changes(changes: Sequence[BucketChange], ctx: MovementContext) -> None:
    """Apply every bucket change or none (PostgreSQL only; buckets exist nowhere else), with a
    bucket ledger row each and, for releases and expiries, an outbox row, in one statement.
    Several buckets are locked in primary-key order first. The callers compute the changes
    from active reservation lines or under the buckets' locks, so a refused guard means the
    books are already wrong: it raises rather than guess."""
    if not changes:
        return
    ordered = sorted(changes, key=lambda c: c.bucket_id)
    ids = [c.bucket_id for c in ordered]
    if len(set(ids)) != len(ids):
        raise ValueError("Bucket changes must touch distinct buckets.")
    with connection.cursor() as cursor:
        if len(ordered) > 1:
            cursor.execute(statements.LOCK_BUCKETS_IN_ORDER, [ids])
        cursor.execute(*statements.bucket_changes_statement(ordered, ctx))
        product_ids = [row[0] for row in cursor.fetchall()]
    if len(product_ids) != len(ordered):
        raise InventoryError(
            "A bucket change was refused: bucket balances disagree with the reservations "
            "holding them. Run inventory_verify.",
            buckets=ids,
        )
    after_commit(product_ids)


def free_by_level(level_ids: Iterable[int]) -> dict[int, int]:
    """Free bucket units per level, for the levels that have any. Takes no lock."""
    rows = (
        StockBucket.objects.filter(stock_level_id__in=list(level_ids), allotted__gt=F("reserved"))
        .values("stock_level_id")
        .annotate(free=Sum(F("allotted") - F("reserved")))
        .values_list("stock_level_id", "free")
    )
    return {level_id: int(free) for level_id, free in rows}


def rebalance_plan(level: StockLevel, buckets: Sequence[StockBucket]) -> dict[int, int]:
    """Allotment deltas that leave the level's own available units and every free bucket unit
    spread evenly over the active buckets (numbered below the bucket count; the retired ones
    are emptied of free units). `level` and `buckets` hold current figures (locked); the
    count is above 0."""
    active = sorted((b for b in buckets if b.number < level.bucket_count), key=lambda b: b.number)
    pool = max(level.on_hand - level.reserved - level.safety_stock, 0)
    pool += sum(b.free for b in buckets)
    share, extra = divmod(pool, len(active))
    deltas = {b.pk: -b.free for b in buckets if b.number >= level.bucket_count and b.free}
    for index, bucket in enumerate(active):
        deltas[bucket.pk] = share + (1 if index < extra else 0) - bucket.free
    return deltas


def drain_plan(level: StockLevel, buckets: Sequence[StockBucket], units: int) -> dict[int, int]:
    """Allotment deltas that take `units` free units out of the buckets: retired buckets
    first, then those with the most free units."""
    deltas: dict[int, int] = {}
    order = sorted(buckets, key=lambda b: (b.number < level.bucket_count, -b.free, b.number))
    for bucket in order:
        take = min(bucket.free, units)
        if take > 0:
            deltas[bucket.pk] = -take
            units -= take
    if units > 0:
        raise ValueError("Not enough free bucket units to drain.")
    return deltas


def gather_plan(level: StockLevel, buckets: Sequence[StockBucket], units: int) -> dict[int, int]:
    """Allotment deltas that gather `units` free units into the active bucket that has the
    most, from the others: the level's figures do not change."""
    active = [b for b in buckets if b.number < level.bucket_count]
    target = max(active, key=lambda b: (b.free, -b.number))
    deltas = drain_plan(level, [b for b in buckets if b.pk != target.pk], units - target.free)
    deltas[target.pk] = units - target.free
    return deltas
