"""Stock levels found or created, and locked in the global lock order: levels before buckets,
each by primary key.

Every row lock here is FOR NO KEY UPDATE, the lock an UPDATE takes: it excludes the other
writers yet not the foreign-key checks of rows inserted elsewhere (a reservation line or a
bucket ledger row pointing at the level), which a bucket reservation makes while holding its
bucket; FOR UPDATE would let that reservation and a transaction holding the level and waiting
for the bucket deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection

from apps.inventory.engine import statements
from apps.inventory.models import StockBucket, StockLevel


def ensure_stock_levels(
    merchant_id: int, pairs: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], int]:
    """Return stock level ids for (product_id, location_id) pairs, creating empty levels.

    Creates in sorted order, before the caller locks any stock row, so two transactions
    creating the same levels queue on the unique index instead of deadlocking.
    """
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    found = levels_by_pair(wanted)
    missing = [pair for pair in wanted if pair not in found]
    if missing:
        _create_levels(merchant_id, missing)
        found.update(levels_by_pair(missing))
    return found


def _create_levels(merchant_id: int, pairs: Sequence[tuple[int, int]]) -> None:
    """Insert empty levels (every field at its model default) in one set-based statement, in
    the order given; levels created meanwhile by another transaction are left alone."""
    if connection.vendor != "postgresql":
        StockLevel.objects.bulk_create(
            [
                StockLevel(merchant_id=merchant_id, product_id=p, location_id=loc)
                for p, loc in pairs
            ],
            ignore_conflicts=True,
        )
        return
    template = StockLevel(merchant_id=merchant_id, product_id=0, location_id=0)
    constants = [
        (f.column, f.get_db_prep_save(f.pre_save(template, add=True), connection))
        for f in StockLevel._meta.concrete_fields
        if not f.primary_key and f.attname not in ("product_id", "location_id")
    ]
    with connection.cursor() as cursor:
        cursor.execute(*statements.create_levels_statement(constants, pairs))


def levels_by_pair(pairs: Sequence[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """Ids of existing stock levels, by (product_id, location_id). Takes no lock."""
    if not pairs:
        return {}
    product_ids = {p for p, _ in pairs}
    location_ids = {loc for _, loc in pairs}
    wanted = set(pairs)
    rows = StockLevel.objects.filter(
        product_id__in=product_ids, location_id__in=location_ids
    ).values_list("product_id", "location_id", "id")
    return {(p, loc): pk for p, loc, pk in rows if (p, loc) in wanted}


def lock_levels(level_ids: Iterable[int]) -> dict[int, StockLevel]:
    """Lock stock levels in primary-key order and return them."""
    ids = sorted(set(level_ids))
    levels = StockLevel.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
    return {level.pk: level for level in levels}


def lock_levels_in_order(level_ids: Sequence[int]) -> None:
    """Lock stock levels in primary-key order, reading nothing back (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(statements.LOCK_LEVELS_IN_ORDER, [sorted(level_ids)])


def lock_buckets(level_id: int) -> list[StockBucket]:
    """Lock every bucket of a level in primary-key order. Call with the level locked first."""
    return list(
        StockBucket.objects.select_for_update(no_key=True)
        .filter(stock_level_id=level_id)
        .order_by("pk")
    )
