"""The only code that writes quantity columns of `StockLevel`.

Every change is a `Movement`: signed deltas for one stock level plus the guards the change must
satisfy. `apply_movements` turns a batch of movements into, on PostgreSQL, one statement that
guards, updates, writes the ledger rows and the outbox rows together (one round trip while the
row locks are held); a batch touching several levels first locks them in primary-key order, the
global lock order every writer follows. A movement whose guard fails updates nothing; the caller's
transaction is then rolled back by raising a domain error that carries the exact figures.

Public services live beside this module; nothing else imports it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from apps.events.hooks import dispatch_after_commit
from apps.inventory import availability_cache
from apps.inventory.exceptions import (
    CountBelowReserved,
    ExceedsMaxLevel,
    InsufficientStock,
    InventoryError,
    Shortage,
    VersionConflict,
)
from apps.inventory.models import LedgerEntry, OutboxEvent, StockLevel

# Upper bound of any quantity column: keeps sums far from the 32-bit integer limit, so an
# absurd receipt is a clear refusal instead of a database overflow.
MAX_QUANTITY = 1_000_000_000
STOCK_CHANGED = "stock.changed"
Reason = LedgerEntry.Reason


@dataclasses.dataclass(frozen=True)
class Movement:
    """Signed deltas for one stock level and the guards they must pass.

    Always guarded: no quantity below zero or above MAX_QUANTITY, reserved <= on_hand.
    `respect_safety_stock`: on_hand - reserved must stay >= safety_stock (reservations).
    `respect_max_level`: on_hand must stay <= max_level when one is set (receipts).
    `expected_version` / `expected_on_hand`: compare-and-set against the current row.
    `requested` is the caller's quantity, quoted back in errors.
    """

    stock_level_id: int
    reason: str
    requested: int
    on_hand: int = 0
    reserved: int = 0
    damaged: int = 0
    in_transit: int = 0
    respect_safety_stock: bool = False
    respect_max_level: bool = False
    expected_version: int | None = None
    expected_on_hand: int | None = None
    reference: str = ""
    note: str = ""


@dataclasses.dataclass(frozen=True)
class MovementContext:
    merchant_id: int
    actor_id: int | None
    source: str
    idempotency_key: str
    at: datetime


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
    constant_fields = [
        f
        for f in StockLevel._meta.concrete_fields
        if not f.primary_key and f.attname not in ("product_id", "location_id")
    ]
    constants = [
        f.get_db_prep_save(f.pre_save(template, add=True), connection) for f in constant_fields
    ]
    columns = ", ".join(f.column for f in constant_fields)
    parameter_marks = ", ".join(["%s"] * len(constants))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO inventory_stocklevel ({columns}, product_id, location_id) "
            f"SELECT {parameter_marks}, pair.product_id, pair.location_id "
            "FROM unnest(%s::bigint[], %s::bigint[]) WITH ORDINALITY "
            "AS pair(product_id, location_id, position) ORDER BY pair.position "
            "ON CONFLICT DO NOTHING",
            [*constants, [p for p, _ in pairs], [loc for _, loc in pairs]],
        )


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
    """Lock stock levels in primary-key order (the global lock order) and return them."""
    ids = sorted(set(level_ids))
    levels = StockLevel.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    return {level.pk: level for level in levels}


def apply_movements(movements: Sequence[Movement], ctx: MovementContext) -> list[LedgerEntry]:
    """Apply every movement or none: returns the ledger entries in the order given, or raises
    an InventoryError after which the caller's transaction must roll back (it always does,
    because services run inside `transaction.atomic`)."""
    if not movements:
        return []
    ids = [m.stock_level_id for m in movements]
    if len(set(ids)) != len(ids):
        raise ValueError("Movements must touch distinct stock levels; aggregate lines first.")
    ordered = sorted(movements, key=lambda m: m.stock_level_id)
    if connection.vendor == "postgresql":
        if len(ordered) > 1:
            _lock_in_order(ids)
        rows = _apply_postgresql(ordered, ctx)
    else:
        rows = _apply_portable(ordered, ctx)
    if len(rows) != len(ordered):
        applied = {row["stock_level_id"] for row in rows}
        _raise_refusal([m for m in ordered if m.stock_level_id not in applied])
    by_level = {row["stock_level_id"]: row for row in rows}
    _after_commit([row["product_id"] for row in rows])
    return [_entry_from_row(by_level[m.stock_level_id], m, ctx) for m in movements]


def _after_commit(product_ids: list[int]) -> None:
    """Once this transaction commits: publish its outbox rows and drop the cached
    availability of the products it changed (nothing happens if it rolls back)."""
    dispatch_after_commit()
    availability_cache.invalidate_after_commit(product_ids)


def _lock_in_order(level_ids: Sequence[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM inventory_stocklevel WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            [sorted(level_ids)],
        )


# Guards, shared by both statement builders. `r.` names the request's columns.
_GUARDS = f"""
    s.on_hand + r.d_on_hand >= 0
    AND s.reserved + r.d_reserved >= 0
    AND s.damaged + r.d_damaged >= 0
    AND s.in_transit + r.d_in_transit >= 0
    AND s.on_hand + r.d_on_hand <= {MAX_QUANTITY}
    AND s.damaged + r.d_damaged <= {MAX_QUANTITY}
    AND s.in_transit + r.d_in_transit <= {MAX_QUANTITY}
    AND s.reserved + r.d_reserved <= s.on_hand + r.d_on_hand
    AND (NOT r.check_safety
         OR s.on_hand + r.d_on_hand - s.reserved - r.d_reserved >= s.safety_stock)
    AND (NOT r.check_max OR s.max_level IS NULL OR s.on_hand + r.d_on_hand <= s.max_level)
    AND (r.expected_version IS NULL OR s.version = r.expected_version)
    AND (r.expected_on_hand IS NULL OR s.on_hand = r.expected_on_hand)
"""

_SET = """
    on_hand = s.on_hand + r.d_on_hand,
    reserved = s.reserved + r.d_reserved,
    damaged = s.damaged + r.d_damaged,
    in_transit = s.in_transit + r.d_in_transit,
    version = s.version + 1,
    updated_at = %(at)s
"""

_REQUEST_COLUMNS = (
    "stock_level_id", "reason", "d_on_hand", "d_reserved", "d_damaged", "d_in_transit",
    "check_safety", "check_max", "expected_version", "expected_on_hand", "reference", "note",
)  # fmt: skip
_REQUEST_TYPES = (
    "bigint", "varchar", "integer", "integer", "integer", "integer",
    "boolean", "boolean", "bigint", "integer", "varchar", "varchar",
)  # fmt: skip

_LEDGER_INSERT_COLUMNS = """
    merchant_id, stock_level_id, product_id, location_id, reason,
    on_hand_delta, reserved_delta, damaged_delta, in_transit_delta,
    on_hand_after, reserved_after, damaged_after, in_transit_after, safety_stock_after,
    version_after, actor_id, source, reference, note, idempotency_key, created_at
"""


def _request_values(m: Movement) -> tuple[Any, ...]:
    return (
        m.stock_level_id, m.reason, m.on_hand, m.reserved, m.damaged, m.in_transit,
        m.respect_safety_stock, m.respect_max_level, m.expected_version, m.expected_on_hand,
        m.reference, m.note,
    )  # fmt: skip


def _context_params(ctx: MovementContext) -> dict[str, Any]:
    return {
        "merchant_id": ctx.merchant_id,
        "actor_id": ctx.actor_id,
        "source": ctx.source,
        "idempotency_key": ctx.idempotency_key,
        "at": ctx.at,
        "topic": STOCK_CHANGED,
    }


# Requests travel as arrays (no parameter limit); chunks keep each statement's work bounded.
_MOVEMENTS_PER_STATEMENT = 10_000


def _apply_postgresql(movements: Sequence[Movement], ctx: MovementContext) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for start in range(0, len(movements), _MOVEMENTS_PER_STATEMENT):
        chunk = movements[start : start + _MOVEMENTS_PER_STATEMENT]
        chunk_rows = _apply_postgresql_chunk(chunk, ctx)
        rows.extend(chunk_rows)
        if len(chunk_rows) != len(chunk):
            break  # refused: the caller explains and rolls back
    return rows


# The new balances, read from the ledger rows just written (no join back to `moved`: joins of
# data-modifying CTEs are planned blind and would be quadratic on large batches).
_ENTRY_RESULT = """entry.stock_level_id, entry.product_id, entry.location_id, entry.on_hand_after,
    entry.reserved_after, entry.damaged_after, entry.in_transit_after, entry.safety_stock_after,
    entry.version_after, entry.id"""

# Given a CTE `r` of requests (the columns of _REQUEST_COLUMNS): the guarded update, its ledger
# rows and its outbox rows, as CTEs `moved`, `entry` and `event`.
_MOVED_ENTRY_EVENT = f"""
        moved AS (
            UPDATE inventory_stocklevel AS s SET {_SET}
            FROM r
            WHERE s.id = r.stock_level_id AND s.merchant_id = %(merchant_id)s AND {_GUARDS}
            RETURNING s.id AS stock_level_id, s.product_id, s.location_id, s.on_hand, s.reserved,
                s.damaged, s.in_transit, s.safety_stock, s.version, r.reason, r.d_on_hand,
                r.d_reserved, r.d_damaged, r.d_in_transit, r.reference, r.note
        ),
        entry AS (
            INSERT INTO inventory_ledgerentry ({_LEDGER_INSERT_COLUMNS})
            SELECT %(merchant_id)s, stock_level_id, product_id, location_id, reason,
                d_on_hand, d_reserved, d_damaged, d_in_transit,
                on_hand, reserved, damaged, in_transit, safety_stock,
                version, %(actor_id)s, %(source)s, reference, note, %(idempotency_key)s, %(at)s
            FROM moved
            RETURNING id, stock_level_id, product_id, location_id, on_hand_after, reserved_after,
                damaged_after, in_transit_after, safety_stock_after, version_after
        ),
        event AS (
            INSERT INTO inventory_outboxevent (merchant_id, topic, ledger_entry_id, payload, created_at)
            SELECT %(merchant_id)s, %(topic)s, id, '{{}}'::jsonb, %(at)s FROM entry
        )"""


def _apply_postgresql_chunk(
    movements: Sequence[Movement], ctx: MovementContext
) -> list[dict[str, Any]]:
    sql, params = movement_statement(movements, ctx)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [_row_dict(row) for row in cursor.fetchall()]


def movement_statement(
    movements: Sequence[Movement], ctx: MovementContext
) -> tuple[str, dict[str, Any]]:
    """The PostgreSQL statement (and its parameters) that applies `movements`: guard, update,
    ledger rows and outbox rows in one round trip. The requests travel as one array per column
    (unnest), so the statement's text is the same for any number of movements. Exposed so that
    benchmarks can drive the very same statement without the ORM."""
    params = _context_params(ctx)
    columns = list(zip(*(_request_values(m) for m in movements), strict=True))
    arrays = []
    for column, sql_type, values in zip(_REQUEST_COLUMNS, _REQUEST_TYPES, columns, strict=True):
        params[f"r_{column}"] = list(values)
        arrays.append(f"%(r_{column})s::{sql_type}[]")
    sql = f"""
        WITH r ({", ".join(_REQUEST_COLUMNS)}) AS (SELECT * FROM unnest({", ".join(arrays)})),
        {_MOVED_ENTRY_EVENT}
        SELECT {_ENTRY_RESULT} FROM entry
    """
    return sql, params


@dataclasses.dataclass(frozen=True)
class HeldLine:
    """What `reserve_into_new_reservation` wrote: the ledger entry and the reservation line."""

    entry: LedgerEntry
    line_id: int


def reserve_statement(
    *,
    product_id: int,
    location_id: int,
    quantity: int,
    reservation: dict[str, Any],
    ctx: MovementContext,
) -> tuple[str, dict[str, Any]]:
    """One statement that finds the stock level of (product, location), reserves `quantity`
    under the usual guards (safety stock respected), writes the ledger and outbox rows, and
    inserts the reservation and its line, all only if the guarded update happened. Returns no
    row when refused (or when the level does not exist)."""
    params = _context_params(ctx)
    params.update(
        product_id=product_id,
        location_id=location_id,
        quantity=quantity,
        reason=Reason.RESERVE,
        reference=f"reservation:{reservation['id']}",
        reservation_id=reservation["id"],
        order_ref=reservation["order_ref"],
        expires_at=reservation["expires_at"],
        status=reservation["status"],
    )
    sql = f"""
        WITH r ({", ".join(_REQUEST_COLUMNS)}) AS (
            SELECT l.id, %(reason)s::varchar, 0, %(quantity)s::integer, 0, 0, true, false,
                NULL::bigint, NULL::integer, %(reference)s::varchar, ''::varchar
            FROM inventory_stocklevel AS l
            WHERE l.merchant_id = %(merchant_id)s AND l.product_id = %(product_id)s
                AND l.location_id = %(location_id)s
        ),
        {_MOVED_ENTRY_EVENT},
        held AS (
            INSERT INTO inventory_reservation (id, merchant_id, status, order_ref, expires_at,
                source, created_by_id, created_at, closed_at)
            SELECT %(reservation_id)s, %(merchant_id)s, %(status)s, %(order_ref)s,
                %(expires_at)s, %(source)s, %(actor_id)s, %(at)s, NULL
            FROM moved
            RETURNING id
        ),
        line AS (
            INSERT INTO inventory_reservationline (reservation_id, stock_level_id, product_id,
                location_id, quantity)
            SELECT held.id, moved.stock_level_id, moved.product_id, moved.location_id,
                moved.d_reserved
            FROM held CROSS JOIN moved
            RETURNING id
        )
        SELECT {_ENTRY_RESULT}, line.id FROM entry CROSS JOIN line
    """
    return sql, params


def reserve_into_new_reservation(
    *,
    product_id: int,
    location_id: int,
    quantity: int,
    reservation: dict[str, Any],
    ctx: MovementContext,
) -> HeldLine | None:
    """Create a one-line reservation and reserve its units in one round trip (PostgreSQL only).
    The row lock is held from this statement to COMMIT, nothing more. Raises InsufficientStock
    (with the level's figures) when the guard refuses; returns None when no stock level exists
    for the pair. Nothing is written in either case."""
    sql, params = reserve_statement(
        product_id=product_id,
        location_id=location_id,
        quantity=quantity,
        reservation=reservation,
        ctx=ctx,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    movement_args = {
        "reason": Reason.RESERVE,
        "requested": quantity,
        "reserved": quantity,
        "respect_safety_stock": True,
        "reference": params["reference"],
    }
    if row is None:
        level_id = levels_by_pair([(product_id, location_id)]).get((product_id, location_id))
        if level_id is None:
            return None  # nothing ever stocked there: the caller explains
        _raise_refusal([Movement(stock_level_id=level_id, **movement_args)])
    result = _row_dict(row[:10])
    _after_commit([product_id])
    entry = _entry_from_row(
        result, Movement(stock_level_id=result["stock_level_id"], **movement_args), ctx
    )
    return HeldLine(entry=entry, line_id=row[10])


def _apply_portable(movements: Sequence[Movement], ctx: MovementContext) -> list[dict[str, Any]]:
    """The same guarded update for other databases (SQLite for the embedded demo), one row at a
    time in primary-key order, then the ledger and outbox rows in bulk."""
    params = _context_params(ctx)
    rows = []
    with connection.cursor() as cursor:
        guards = _portable_sql(_GUARDS)
        set_clause = _portable_sql(_SET)
        for movement in movements:
            request = dict(zip(_REQUEST_COLUMNS, _request_values(movement), strict=True))
            row_params = {**params, **{f"r_{k}": v for k, v in request.items()}}
            cursor.execute(
                f"UPDATE inventory_stocklevel SET {set_clause} "
                f"WHERE id = %(r_stock_level_id)s AND merchant_id = %(merchant_id)s AND {guards} "
                "RETURNING id, product_id, location_id, on_hand, reserved, damaged, in_transit, "
                "safety_stock, version",
                row_params,
            )
            row = cursor.fetchone()
            if row is not None:
                rows.append(_row_dict((*row, None)))
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


def _portable_sql(sql: str) -> str:
    """Rewrite `s.col` to `col` and `r.col` to a `%(r_col)s` parameter."""
    out = sql.replace("s.", "")
    for column in _REQUEST_COLUMNS:
        out = out.replace(f"r.{column}", f"%(r_{column})s")
    return out


def _row_dict(row: Sequence[Any]) -> dict[str, Any]:
    keys = (
        "stock_level_id", "product_id", "location_id", "on_hand", "reserved", "damaged",
        "in_transit", "safety_stock", "version", "ledger_entry_id",
    )  # fmt: skip
    return dict(zip(keys, row, strict=True))


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
        source=ctx.source,
        reference=m.reference,
        note=m.note,
        idempotency_key=ctx.idempotency_key,
        created_at=ctx.at,
    )


def _raise_refusal(failed: Sequence[Movement]) -> None:
    """Explain why movements updated nothing, from the rows as they are now (still locked or
    unchanged by this transaction), and raise the matching domain error."""
    levels = {
        level.pk: level
        for level in StockLevel.objects.select_related("product", "location").filter(
            pk__in=[m.stock_level_id for m in failed]
        )
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
                sku=sku, location=code, counted=level.on_hand + m.on_hand, reserved=level.reserved
            )
        shortages.append(
            Shortage(
                sku=sku, location=code, requested=m.requested, available=_available_for(m, level)
            )
        )
    raise InsufficientStock(shortages)


def _available_for(m: Movement, level: StockLevel) -> int:
    """What the movement could have taken: reservations respect safety stock; physical moves
    (sales, damage, transfers, adjustments) may use any unreserved unit."""
    if m.respect_safety_stock:
        return level.available
    if m.damaged < 0:
        return level.damaged
    if m.in_transit < 0:
        return level.in_transit
    if m.reserved < 0:
        return level.reserved
    return max(level.on_hand - level.reserved, 0)


def level_figures(level: StockLevel) -> dict[str, int]:
    return {
        "on_hand": level.on_hand,
        "reserved": level.reserved,
        "available": level.available,
        "damaged": level.damaged,
        "in_transit": level.in_transit,
        "safety_stock": level.safety_stock,
        "version": level.version,
    }


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
        source=ctx.source,
        note=", ".join(f"{k}={v}" for k, v in settings.items()),
        idempotency_key=ctx.idempotency_key,
        created_at=ctx.at,
    )
    OutboxEvent.objects.create(
        merchant_id=ctx.merchant_id, topic=STOCK_CHANGED, ledger_entry=entry, created_at=ctx.at
    )
    _after_commit([level.product_id])
    return entry


def rebuild_level_balances(level_id: int, balances: dict[str, int]) -> None:
    """Overwrite one level's quantities with balances replayed from its ledger (repair tool).
    Locks the row; writes no ledger row, because the ledger is the truth being restored."""
    lock_levels([level_id])
    StockLevel.objects.filter(pk=level_id).update(**balances, updated_at=timezone.now())
