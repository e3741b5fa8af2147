"""Movements: the only code that changes the quantity columns of stock levels.

`apply_movements` turns a batch of `Movement`s into, on PostgreSQL, one statement that guards,
updates, writes the ledger rows and the outbox rows together (one round trip while the row
locks are held); a batch touching several levels first locks them in primary-key order, the
global lock order every writer follows. A movement whose guard fails updates nothing; the
caller's transaction is then rolled back by raising a domain error that carries the exact
figures.

On a level with buckets the free units its buckets hold still count: a movement that needs
them drains them back to the level first, and a change that digs into the safety stock drains
free bucket units until it does not (`move_allotments` moves units between a level and its
buckets, with ledger rows on both sides).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import F

from apps.inventory.engine import statements
from apps.inventory.engine.buckets import apply_bucket_changes, drain_plan, free_by_level
from apps.inventory.engine.changes import BucketChange, Movement, MovementContext
from apps.inventory.engine.locks import lock_buckets, lock_levels, lock_levels_in_order
from apps.inventory.engine.notify import after_commit
from apps.inventory.engine.refusals import raise_refusal
from apps.inventory.models import BucketLedgerEntry, LedgerEntry, OutboxEvent, StockLevel
from apps.inventory.outbox import STOCK_CHANGED

Reason = LedgerEntry.Reason
BucketReason = BucketLedgerEntry.Reason


def apply_movements(
    movements: Sequence[Movement], ctx: MovementContext, *, buckets: bool = True
) -> list[LedgerEntry]:
    """Apply every movement or none: returns the ledger entries in the order given, or raises
    an InventoryError after which the caller's transaction must roll back (it always does,
    because services run inside `transaction.atomic`).

    On a level with buckets (`buckets=True`, the default): a movement refused for want of
    units that the buckets hold free is applied after draining just those units back to the
    level; and a change that leaves on_hand - reserved below the safety stock drains free
    bucket units until it is not (units in buckets never dig into the safety stock)."""
    if not movements:
        return []
    ids = [m.stock_level_id for m in movements]
    if len(set(ids)) != len(ids):
        raise ValueError("Movements must touch distinct stock levels; aggregate lines first.")
    ordered = sorted(movements, key=lambda m: m.stock_level_id)
    rows = _apply_ordered(ordered, ctx)
    if len(rows) != len(ordered):
        applied = {row["stock_level_id"] for row in rows}
        failed = [m for m in ordered if m.stock_level_id not in applied]
        retry = _drain_for(failed, ctx) if buckets else []
        if retry:
            rows += _apply_ordered(retry, ctx)
            applied = {row["stock_level_id"] for row in rows}
        if len(rows) != len(ordered):
            raise_refusal([m for m in ordered if m.stock_level_id not in applied])
    if buckets:
        _keep_safety_stock(rows, ctx)
    by_level = {row["stock_level_id"]: row for row in rows}
    after_commit([row["product_id"] for row in rows])
    return [_entry_from_row(by_level[m.stock_level_id], m, ctx) for m in movements]


def _apply_ordered(ordered: Sequence[Movement], ctx: MovementContext) -> list[dict[str, Any]]:
    if connection.vendor != "postgresql":
        return _apply_sqlite(ordered, ctx)
    if len(ordered) > 1:
        lock_levels_in_order([m.stock_level_id for m in ordered])
    rows: list[dict[str, Any]] = []
    for start in range(0, len(ordered), statements.MOVEMENTS_PER_STATEMENT):
        chunk = ordered[start : start + statements.MOVEMENTS_PER_STATEMENT]
        with connection.cursor() as cursor:
            cursor.execute(*statements.movement_statement(chunk, ctx))
            chunk_rows = [statements.row_dict(row) for row in cursor.fetchall()]
        rows.extend(chunk_rows)
        if len(chunk_rows) != len(chunk):
            break  # refused: the caller explains and rolls back
    return rows


def _apply_sqlite(movements: Sequence[Movement], ctx: MovementContext) -> list[dict[str, Any]]:
    """The same guarded update on SQLite (the embedded demo), one row at a time in primary-key
    order, then the ledger and outbox rows in bulk."""
    rows = []
    with connection.cursor() as cursor:
        for movement in movements:
            cursor.execute(statements.SQLITE_MOVE, statements.sqlite_move_params(movement, ctx))
            row = cursor.fetchone()
            if row is not None:
                rows.append(statements.row_dict((*row, None)))
    if len(rows) != len(movements):
        return rows
    by_level = {m.stock_level_id: m for m in movements}
    entries = LedgerEntry.objects.bulk_create(
        [_entry_from_row(row, by_level[row["stock_level_id"]], ctx) for row in rows]
    )
    OutboxEvent.objects.bulk_create(
        [
            OutboxEvent(
                merchant_id=ctx.merchant_id,
                topic=STOCK_CHANGED,
                ledger_entry_id=e.pk,
                created_at=ctx.at,
            )
            for e in entries
        ]
    )
    for row, entry in zip(rows, entries, strict=True):
        row["ledger_entry_id"] = entry.pk
    return rows


def _entry_from_row(row: dict[str, Any], m: Movement, ctx: MovementContext) -> LedgerEntry:
    return LedgerEntry(
        id=row["ledger_entry_id"],
        merchant_id=ctx.merchant_id,
        stock_level_id=row["stock_level_id"],
        product_id=row["product_id"],
        location_id=row["location_id"],
        reason=m.reason,
        on_hand_delta=m.on_hand,
        reserved_delta=m.reserved,
        damaged_delta=m.damaged,
        in_transit_delta=m.in_transit,
        on_hand_after=row["on_hand"],
        reserved_after=row["reserved"],
        damaged_after=row["damaged"],
        in_transit_after=row["in_transit"],
        safety_stock_after=row["safety_stock"],
        version_after=row["version"],
        actor_id=ctx.actor_id,
        actor_api_key_id=ctx.api_key_id,
        actor_api_key_name=ctx.api_key_name,
        source=ctx.source,
        reference=m.reference,
        note=m.note,
        idempotency_key=ctx.idempotency_key,
        created_at=ctx.at,
        occurred_at=ctx.occurred_at,
    )


def move_allotments(level_id: int, deltas: dict[int, int], ctx: MovementContext) -> None:
    """Move units between a level and its buckets (both locked by the caller): the level's
    `reserved` changes by the net amount (one `bucket_fill` or `bucket_drain` ledger row; a
    fill respects the safety stock), each bucket's `allotted` by its delta (bucket ledger
    rows)."""
    deltas = {bucket_id: delta for bucket_id, delta in deltas.items() if delta}
    if not deltas:
        return
    net = sum(deltas.values())
    if net:
        apply_movements(
            [
                Movement(
                    stock_level_id=level_id,
                    reason=Reason.BUCKET_FILL if net > 0 else Reason.BUCKET_DRAIN,
                    requested=abs(net),
                    reserved=net,
                    respect_safety_stock=net > 0,
                )
            ],
            ctx,
            buckets=False,
        )
    apply_bucket_changes(
        [
            BucketChange(
                bucket_id=bucket_id,
                reason=BucketReason.FILL if delta > 0 else BucketReason.DRAIN,
                allotted=delta,
            )
            for bucket_id, delta in deltas.items()
        ],
        ctx,
    )


def _drain_for(failed: Sequence[Movement], ctx: MovementContext) -> list[Movement]:
    """For refused movements on levels whose buckets hold free units: drain, under the level's
    lock, exactly the units each needs (for reserved <= on_hand, and for the safety stock when
    the movement respects it) and return the movements to try again. A movement refused for
    another reason (version, max level, ...) is left alone and will be refused again."""
    free = free_by_level(m.stock_level_id for m in failed)
    if not free:
        return []
    levels = lock_levels(free)  # already ours when the batch locked them
    retry = []
    for m in failed:
        level = levels.get(m.stock_level_id)
        if level is None:
            continue
        if m.expected_version is not None and level.version != m.expected_version:
            continue
        if m.expected_on_hand is not None and level.on_hand != m.expected_on_hand:
            continue
        on_hand, reserved = level.on_hand + m.on_hand, level.reserved + m.reserved
        need = reserved - on_hand
        if m.respect_safety_stock:
            need = max(need, reserved + level.safety_stock - on_hand)
        if need <= 0 or need > free[level.pk]:
            continue
        buckets = lock_buckets(level.pk)
        if need > sum(b.free for b in buckets):
            continue  # taken meanwhile by a reservation
        move_allotments(level.pk, drain_plan(level, buckets, need), ctx)
        bumped = None if m.expected_version is None else m.expected_version + 1
        retry.append(dataclasses.replace(m, expected_version=bumped))
    return retry


def keep_safety_stock(level_ids: Iterable[int], ctx: MovementContext) -> None:
    """For levels the caller has locked: drain free bucket units that would let reservations
    dig into the safety stock. Needed after units come back to a bucket (a release or an
    expiry) while a sale or a count had taken the level below its safety stock."""
    rows = StockLevel.objects.filter(pk__in=list(level_ids), bucket_count__gt=0).values(
        "on_hand", "reserved", "safety_stock", stock_level_id=F("id")
    )
    _keep_safety_stock(list(rows), ctx)


def _keep_safety_stock(rows: Sequence[dict[str, Any]], ctx: MovementContext) -> None:
    """After a change that left on_hand - reserved below the safety stock (a physical move may
    dig into it): drain free bucket units until it is not, so that reservations served from
    buckets never take the safety stock. The levels are locked by the change just made."""
    short = {
        row["stock_level_id"]: row["safety_stock"] - (row["on_hand"] - row["reserved"])
        for row in rows
        if row["on_hand"] - row["reserved"] < row["safety_stock"]
    }
    if not short:
        return
    for level_id in sorted(free_by_level(short)):
        level = StockLevel.objects.get(pk=level_id)
        buckets = lock_buckets(level_id)
        units = min(short[level_id], sum(b.free for b in buckets))
        if units > 0:
            move_allotments(level_id, drain_plan(level, buckets, units), ctx)
