"""The only code that writes quantity columns of `StockLevel` and `StockBucket`.

Every change is a `Movement`: signed deltas for one stock level plus the guards the change must
satisfy. `apply_movements` turns a batch of movements into, on PostgreSQL, one statement that
guards, updates, writes the ledger rows and the outbox rows together (one round trip while the
row locks are held); a batch touching several levels first locks them in primary-key order, the
global lock order every writer follows. A movement whose guard fails updates nothing; the caller's
transaction is then rolled back by raising a domain error that carries the exact figures.

Stock buckets (opt-in per level, see docs/stock-model.md) hold part of a level's reservable
units in rows of their own: `BucketChange`s and the bucket reservation statement change them,
with their own ledger; levels are always locked before buckets.

Public services live beside this module; nothing else imports it.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection
from django.db.models import F, Sum
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
from apps.inventory.models import (
    MAX_BUCKETS,
    BucketLedgerEntry,
    LedgerEntry,
    OutboxEvent,
    StockBucket,
    StockLevel,
)

# Upper bound of any quantity column: keeps sums far from the 32-bit integer limit, so an
# absurd receipt is a clear refusal instead of a database overflow.
MAX_QUANTITY = 1_000_000_000
STOCK_CHANGED = "stock.changed"
BUCKET_CHANGED = "stock.bucket_changed"
Reason = LedgerEntry.Reason
BucketReason = BucketLedgerEntry.Reason


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
    """Who asked (a user, or an API key recorded by id and name), through which channel, under
    which idempotency key, and when."""

    merchant_id: int
    actor_id: int | None
    source: str
    idempotency_key: str
    at: datetime
    api_key_id: int | None = None
    api_key_name: str = ""
    # When the change took effect, if earlier than `at` (a late feed event): the ledger's
    # occurred_at.
    occurred_at: datetime | None = None


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
    """Lock stock levels in primary-key order (the global lock order) and return them.

    Every row lock here is FOR NO KEY UPDATE, the lock an UPDATE takes: it excludes the other
    writers yet not the foreign-key checks of rows inserted elsewhere (a reservation line or
    a bucket ledger row pointing at the level), which a bucket reservation makes while holding
    its bucket; FOR UPDATE would let that reservation and a transaction holding the level and
    waiting for the bucket deadlock."""
    ids = sorted(set(level_ids))
    levels = StockLevel.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
    return {level.pk: level for level in levels}


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
            _raise_refusal([m for m in ordered if m.stock_level_id not in applied])
    if buckets:
        _keep_safety_stock(rows, ctx)
    by_level = {row["stock_level_id"]: row for row in rows}
    _after_commit([row["product_id"] for row in rows])
    return [_entry_from_row(by_level[m.stock_level_id], m, ctx) for m in movements]


def _apply_ordered(ordered: Sequence[Movement], ctx: MovementContext) -> list[dict[str, Any]]:
    if connection.vendor != "postgresql":
        return _apply_portable(ordered, ctx)
    if len(ordered) > 1:
        _lock_in_order([m.stock_level_id for m in ordered])
    return _apply_postgresql(ordered, ctx)


def _after_commit(product_ids: list[int]) -> None:
    """Once this transaction commits: publish its outbox rows and drop the cached
    availability of the products it changed (nothing happens if it rolls back)."""
    dispatch_after_commit()
    availability_cache.invalidate_after_commit(product_ids)


def _lock_in_order(level_ids: Sequence[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM inventory_stocklevel WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE",
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
    version_after, actor_id, actor_api_key_id, actor_api_key_name, source, reference, note,
    idempotency_key, created_at, occurred_at
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
        "api_key_id": ctx.api_key_id,
        "api_key_name": ctx.api_key_name,
        "occurred_at": ctx.occurred_at,
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


def _reservation_params(reservation: dict[str, Any]) -> dict[str, Any]:
    """The parameters of `_HELD_RESERVATION` (and the ledger reference) for `reservation`."""
    return {
        "reference": f"reservation:{reservation['id']}",
        "reservation_id": reservation["id"],
        "order_ref": reservation["order_ref"],
        "expires_at": reservation["expires_at"],
        "status": reservation["status"],
    }


# The new reservation, inserted once the guarded update (`moved`) let its units through.
_HELD_RESERVATION = """
        held AS (
            INSERT INTO inventory_reservation (id, merchant_id, status, order_ref, expires_at,
                source, created_by_id, created_at, closed_at)
            SELECT %(reservation_id)s, %(merchant_id)s, %(status)s, %(order_ref)s,
                %(expires_at)s, %(source)s, %(actor_id)s, %(at)s, NULL
            FROM moved
            RETURNING id
        )"""
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
                version, %(actor_id)s, %(api_key_id)s, %(api_key_name)s, %(source)s, reference,
                note, %(idempotency_key)s, %(at)s, %(occurred_at)s::timestamptz
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
    """What `reserve_into_new_reservation` wrote: the reservation line, on the level itself
    or on one of its buckets."""

    stock_level_id: int
    line_id: int
    bucket_id: int | None = None


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
    row when refused, when the level does not exist, or when it has buckets on (its one-line
    reservations go to `bucket_reserve_statement`)."""
    params = _context_params(ctx)
    params.update(
        product_id=product_id,
        location_id=location_id,
        quantity=quantity,
        reason=Reason.RESERVE,
        **_reservation_params(reservation),
    )
    sql = f"""
        WITH r ({", ".join(_REQUEST_COLUMNS)}) AS (
            SELECT l.id, %(reason)s::varchar, 0, %(quantity)s::integer, 0, 0, true, false,
                NULL::bigint, NULL::integer, %(reference)s::varchar, ''::varchar
            FROM inventory_stocklevel AS l
            WHERE l.merchant_id = %(merchant_id)s AND l.product_id = %(product_id)s
                AND l.location_id = %(location_id)s AND l.bucket_count = 0
        ),
        {_MOVED_ENTRY_EVENT},
        {_HELD_RESERVATION},
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
    sku: str,
    location_code: str,
) -> HeldLine | None:
    """Create a one-line reservation and reserve its units (PostgreSQL only), in one round
    trip when the units are there: on a level without buckets, one statement on the level row
    (its lock held from that statement to COMMIT); on a bucketed level, one statement on a
    bucket that has room and is not locked by another transaction, the level row untouched.
    When that statement finds no room, the level is locked and its buckets refilled, drained
    or bypassed as needed (`_reserve_under_lock`). Raises InsufficientStock with the true
    available (the level's own plus its buckets' free units) when refused; returns None when
    no stock level exists for the pair. Nothing is written in either case."""
    pair = (product_id, location_id)
    args = {
        "product_id": product_id,
        "location_id": location_id,
        "quantity": quantity,
        "reservation": reservation,
        "ctx": ctx,
    }

    def attempt(on_buckets: bool) -> HeldLine | None:
        if on_buckets:
            return _reserve_in_a_bucket(**args, sku=sku, location_code=location_code)
        return _run_level_reserve(**args)

    guessed_bucketed = pair in _bucketed_pairs
    held = attempt(guessed_bucketed)
    if held is not None:
        return held
    state = _reservable(ctx.merchant_id, product_id, location_id)
    if state is None:
        return None  # nothing ever stocked there: the caller explains
    bucketed = state.bucket_count > 0
    _remember_bucketed(pair, bucketed)
    if bucketed != guessed_bucketed:  # the hint was stale: the right statement, once
        held = attempt(bucketed)
        if held is not None:
            return held
    if not bucketed and state.free == 0:
        _raise_refusal([_reserve_movement(state.level_id, quantity, reservation)])
    if state.own + state.free < quantity:
        # A consistent snapshot says there is not enough: refuse without queueing on the lock.
        raise InsufficientStock(
            [
                Shortage(
                    sku=sku,
                    location=location_code,
                    requested=quantity,
                    available=state.own + state.free,
                )
            ]
        )
    return _reserve_under_lock(state.level_id, **args, sku=sku, location_code=location_code)


def _reserve_movement(level_id: int, quantity: int, reservation: dict[str, Any]) -> Movement:
    return Movement(
        stock_level_id=level_id,
        reason=Reason.RESERVE,
        requested=quantity,
        reserved=quantity,
        respect_safety_stock=True,
        reference=f"reservation:{reservation['id']}",
    )


def _run_level_reserve(
    *,
    product_id: int,
    location_id: int,
    quantity: int,
    reservation: dict[str, Any],
    ctx: MovementContext,
) -> HeldLine | None:
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
    if row is None:
        return None
    _after_commit([product_id])
    return HeldLine(stock_level_id=row[0], line_id=row[10])


def _reserve_in_a_bucket(**args: Any) -> HeldLine | None:
    """A bucket with room that no one holds, or else the first with room, waiting for it."""
    return _run_bucket_reserve(**args) or _run_bucket_reserve(**args, wait=True)


def _run_bucket_reserve(
    *,
    product_id: int,
    location_id: int,
    quantity: int,
    reservation: dict[str, Any],
    ctx: MovementContext,
    sku: str,
    location_code: str,
    savepoint: bool = True,
    wait: bool = False,
) -> HeldLine | None:
    """Run the bucket statement. With `savepoint` (whenever the level is not locked by this
    transaction yet): inside a savepoint, rolled back when no row comes back. The pick may
    keep the lock of a bucket whose room re-check failed, and this transaction is about to
    wait for another bucket or for the level: holding that lock meanwhile could close a cycle
    with a transaction that holds what it waits for and waits for that bucket."""
    sql, params = bucket_reserve_statement(
        product_id=product_id,
        location_id=location_id,
        quantity=quantity,
        reservation=reservation,
        ctx=ctx,
        sku=sku,
        location_code=location_code,
        start=random.randrange(MAX_BUCKETS),
        wait=wait,
    )
    with connection.cursor() as cursor:
        if not savepoint:
            cursor.execute(sql, params)
        elif isinstance(cursor.cursor, psycopg.ClientCursor):
            # Client-side binding allows both statements in one round trip.
            cursor.execute(f"SAVEPOINT {_PICK_SAVEPOINT}; {sql}", params)
            cursor.nextset()
        else:
            cursor.execute(f"SAVEPOINT {_PICK_SAVEPOINT}")
            cursor.execute(sql, params)
        row = cursor.fetchone()
        if row is None and savepoint:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {_PICK_SAVEPOINT}")
    if row is None:
        return None
    _after_commit([product_id])
    level_id, bucket_id, line_id = row
    return HeldLine(stock_level_id=level_id, line_id=line_id, bucket_id=bucket_id)


_PICK_SAVEPOINT = "stockroom_bucket_pick"

# (product_id, location_id) pairs last seen with buckets on, so that the one-line path sends
# the bucket statement first. Only a hint: a wrong guess costs one statement that finds nothing
# (and writes nothing), never a wrong result; the refusal path corrects it.
_bucketed_pairs: set[tuple[int, int]] = set()
_BUCKETED_PAIRS_MAX = 10_000


def _remember_bucketed(pair: tuple[int, int], bucketed: bool) -> None:
    if not bucketed:
        _bucketed_pairs.discard(pair)
        return
    if len(_bucketed_pairs) >= _BUCKETED_PAIRS_MAX:
        _bucketed_pairs.clear()
    _bucketed_pairs.add(pair)


@dataclasses.dataclass(frozen=True)
class _Reservable:
    level_id: int
    bucket_count: int
    own: int  # the level's own available units
    free: int  # free units in its buckets


def _reservable(merchant_id: int, product_id: int, location_id: int) -> _Reservable | None:
    """One consistent snapshot (no lock) of what a reservation could take at the level."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.id, l.bucket_count, GREATEST(l.on_hand - l.reserved - l.safety_stock, 0), "
            "COALESCE((SELECT SUM(b.allotted - b.reserved) FROM inventory_stockbucket AS b "
            "WHERE b.stock_level_id = l.id), 0) "
            "FROM inventory_stocklevel AS l "
            "WHERE l.merchant_id = %s AND l.product_id = %s AND l.location_id = %s",
            [merchant_id, product_id, location_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return _Reservable(level_id=row[0], bucket_count=row[1], own=int(row[2]), free=int(row[3]))


def _reserve_under_lock(
    level_id: int,
    *,
    product_id: int,
    location_id: int,
    quantity: int,
    reservation: dict[str, Any],
    ctx: MovementContext,
    sku: str,
    location_code: str,
) -> HeldLine:
    """The slow path, under the level's lock and then its buckets' (the global order: levels,
    then buckets, each by primary key). Bucketing on: refill the buckets from the level (and
    even out their free units) and try a bucket again; when no single bucket has room although together they do (the free
    units are spread thin), gather the units into one bucket and take them there. Bucketing
    off, with free units left in its former buckets: drain what the line needs back to the
    level and reserve there."""
    args = {
        "product_id": product_id,
        "location_id": location_id,
        "quantity": quantity,
        "reservation": reservation,
        "ctx": ctx,
    }
    level = lock_levels([level_id])[level_id]
    buckets = lock_buckets(level_id)
    if level.bucket_count > 0:
        _move_allotments(level_id, _rebalance_plan(level, buckets), ctx)
        held = _run_bucket_reserve(**args, sku=sku, location_code=location_code, savepoint=False)
        if held is not None:
            return held
        level, buckets = _current(level_id)
    own = max(level.on_hand - level.reserved - level.safety_stock, 0)
    free = sum(bucket.free for bucket in buckets)
    if own + free < quantity:
        raise InsufficientStock(
            [Shortage(sku=sku, location=location_code, requested=quantity, available=own + free)]
        )
    if level.bucket_count > 0:
        _move_allotments(level_id, _gather_plan(level, buckets, quantity), ctx)
        held = _run_bucket_reserve(**args, sku=sku, location_code=location_code, savepoint=False)
    else:
        if own < quantity:
            _move_allotments(level_id, _drain_plan(level, buckets, quantity - own), ctx)
        held = _run_level_reserve(**args)
    if held is None:  # cannot happen under the locks; refuse rather than guess
        _raise_refusal([_reserve_movement(level_id, quantity, reservation)])
    return held


def _current(level_id: int) -> tuple[StockLevel, list[StockBucket]]:
    """A level and its buckets as they are now (call with them locked by this transaction)."""
    level = StockLevel.objects.get(pk=level_id)
    return level, list(StockBucket.objects.filter(stock_level_id=level_id).order_by("pk"))


def bucket_reserve_statement(
    *,
    product_id: int,
    location_id: int,
    quantity: int,
    reservation: dict[str, Any],
    ctx: MovementContext,
    sku: str,
    location_code: str,
    start: int,
    wait: bool = False,
) -> tuple[str, dict[str, Any]]:
    """One statement that takes `quantity` units from one bucket of the (product, location)
    level: the first of its active buckets, counting from `start` (modulo the bucket count),
    that has the room and is not locked by another transaction (SKIP LOCKED: no waiting). It
    writes the bucket's ledger row, an outbox row, the reservation and its line (which
    remembers the bucket). The level row is read, never locked. Returns no row when no bucket
    qualifies (or the level has no buckets). Exposed for the benchmark, like
    `reserve_statement`.

    `wait`: for when every bucket with room was locked (more concurrent reservations than
    buckets): the first bucket with room is chosen the same way, locked ones included, and
    the statement waits for that one bucket (a single row: no lock-order question), then
    re-checks its room."""
    params = _context_params(ctx)
    params.update(
        product_id=product_id,
        location_id=location_id,
        quantity=quantity,
        start=start,
        sku=sku,
        location_code=location_code,
        reason=BucketReason.RESERVE,
        bucket_topic=BUCKET_CHANGED,
        **_reservation_params(reservation),
    )
    sql = f"""
        WITH lvl AS (
            SELECT l.id, l.bucket_count FROM inventory_stocklevel AS l
            WHERE l.merchant_id = %(merchant_id)s AND l.product_id = %(product_id)s
                AND l.location_id = %(location_id)s AND l.bucket_count > 0
        ),
        picked AS ({_WAITING_PICK if wait else _SKIPPING_PICK}),
        moved AS (
            UPDATE inventory_stockbucket AS b
            SET reserved = b.reserved + %(quantity)s, version = b.version + 1
            FROM picked
            WHERE b.id = picked.id AND b.allotted - b.reserved >= %(quantity)s
            RETURNING b.id, b.stock_level_id, b.number, b.allotted, b.reserved, b.version
        ),
        entry AS (
            INSERT INTO inventory_bucketledgerentry ({_BUCKET_LEDGER_INSERT_COLUMNS})
            SELECT %(merchant_id)s, id, stock_level_id, %(reason)s, 0, %(quantity)s,
                allotted, reserved, version, %(actor_id)s, %(api_key_id)s, %(api_key_name)s,
                %(source)s, %(reference)s, %(idempotency_key)s, %(at)s
            FROM moved
            RETURNING id
        ),
        event AS (
            INSERT INTO inventory_outboxevent (merchant_id, topic, ledger_entry_id, payload,
                created_at)
            SELECT %(merchant_id)s, %(bucket_topic)s, NULL, jsonb_build_object(
                'stock_level_id', moved.stock_level_id,
                'product_id', %(product_id)s::bigint, 'sku', %(sku)s::text,
                'location_id', %(location_id)s::bigint, 'location', %(location_code)s::text,
                'bucket', moved.number, 'reason', %(reason)s::text,
                'delta', jsonb_build_object('allotted', 0, 'reserved', %(quantity)s::integer),
                'allotted', moved.allotted, 'reserved', moved.reserved,
                'version', moved.version, 'bucket_ledger_id', entry.id,
                'reference', %(reference)s::text), %(at)s
            FROM moved CROSS JOIN entry
        ),
        {_HELD_RESERVATION},
        line AS (
            INSERT INTO inventory_reservationline (reservation_id, stock_level_id, product_id,
                location_id, quantity, bucket_id)
            SELECT held.id, moved.stock_level_id, %(product_id)s, %(location_id)s,
                %(quantity)s, moved.id
            FROM held CROSS JOIN moved
            RETURNING id
        )
        SELECT moved.stock_level_id, moved.id, line.id FROM moved CROSS JOIN line
    """
    return sql, params


# The bucket a reservation takes from: the first active bucket with room, counting from a
# starting bucket; either skipping those locked by other transactions, or (once all with room
# were locked) waiting for the one chosen.
_CHOOSE_BUCKET = """
    SELECT b.id FROM inventory_stockbucket AS b JOIN lvl ON b.stock_level_id = lvl.id
    WHERE b.number < lvl.bucket_count AND b.allotted - b.reserved >= %(quantity)s
    ORDER BY b.number >= %(start)s::integer %% lvl.bucket_count DESC, b.number
    LIMIT 1
"""
_SKIPPING_PICK = f"{_CHOOSE_BUCKET} FOR NO KEY UPDATE OF b SKIP LOCKED"
_WAITING_PICK = f"""
    SELECT w.id FROM inventory_stockbucket AS w WHERE w.id = ({_CHOOSE_BUCKET})
    FOR NO KEY UPDATE
"""

_BUCKET_LEDGER_INSERT_COLUMNS = """
    merchant_id, bucket_id, stock_level_id, reason, allotted_delta, reserved_delta,
    allotted_after, reserved_after, version_after, actor_id, actor_api_key_id,
    actor_api_key_name, source, reference, idempotency_key, created_at
"""


@dataclasses.dataclass(frozen=True)
class BucketChange:
    """Signed deltas for one bucket. Always guarded: 0 <= reserved <= allotted."""

    bucket_id: int
    reason: str
    allotted: int = 0
    reserved: int = 0
    reference: str = ""


# Reasons whose bucket change moves availability, and so is published (fills and drains move
# units between a level and its buckets: the level's own ledger row is the event).
_PUBLISHED_BUCKET_REASONS = (BucketReason.RESERVE, BucketReason.RELEASE, BucketReason.EXPIRE)


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
    params = _context_params(ctx)
    params.update(
        b_id=ids,
        b_reason=[c.reason for c in ordered],
        b_allotted=[c.allotted for c in ordered],
        b_reserved=[c.reserved for c in ordered],
        b_reference=[c.reference for c in ordered],
        published=list(_PUBLISHED_BUCKET_REASONS),
        bucket_topic=BUCKET_CHANGED,
    )
    sql = f"""
        WITH r (bucket_id, reason, d_allotted, d_reserved, reference) AS (
            SELECT * FROM unnest(%(b_id)s::bigint[], %(b_reason)s::varchar[],
                %(b_allotted)s::integer[], %(b_reserved)s::integer[], %(b_reference)s::varchar[])
        ),
        moved AS (
            UPDATE inventory_stockbucket AS b
            SET allotted = b.allotted + r.d_allotted, reserved = b.reserved + r.d_reserved,
                version = b.version + 1
            FROM r
            WHERE b.id = r.bucket_id AND b.reserved + r.d_reserved >= 0
                AND b.reserved + r.d_reserved <= b.allotted + r.d_allotted
            RETURNING b.id, b.stock_level_id, b.number, b.allotted, b.reserved, b.version,
                r.reason, r.d_allotted, r.d_reserved, r.reference
        ),
        entry AS (
            INSERT INTO inventory_bucketledgerentry ({_BUCKET_LEDGER_INSERT_COLUMNS})
            SELECT %(merchant_id)s, id, stock_level_id, reason, d_allotted, d_reserved,
                allotted, reserved, version, %(actor_id)s, %(api_key_id)s, %(api_key_name)s,
                %(source)s, reference, %(idempotency_key)s, %(at)s
            FROM moved
            RETURNING id, bucket_id, stock_level_id, reason, allotted_delta, reserved_delta,
                allotted_after, reserved_after, version_after, reference
        ),
        event AS (
            INSERT INTO inventory_outboxevent (merchant_id, topic, ledger_entry_id, payload,
                created_at)
            SELECT %(merchant_id)s, %(bucket_topic)s, NULL, jsonb_build_object(
                'stock_level_id', e.stock_level_id, 'product_id', l.product_id, 'sku', p.sku,
                'location_id', l.location_id, 'location', loc.code,
                'bucket', b.number, 'reason', e.reason,
                'delta', jsonb_build_object('allotted', e.allotted_delta,
                    'reserved', e.reserved_delta),
                'allotted', e.allotted_after, 'reserved', e.reserved_after,
                'version', e.version_after, 'bucket_ledger_id', e.id,
                'reference', e.reference), %(at)s
            FROM entry AS e
            JOIN inventory_stockbucket AS b ON b.id = e.bucket_id
            JOIN inventory_stocklevel AS l ON l.id = e.stock_level_id
            JOIN catalog_product AS p ON p.id = l.product_id
            JOIN locations_location AS loc ON loc.id = l.location_id
            WHERE e.reason = ANY(%(published)s::varchar[])
        )
        SELECT l.product_id FROM moved JOIN inventory_stocklevel AS l ON l.id = moved.stock_level_id
    """
    with connection.cursor() as cursor:
        if len(ordered) > 1:
            cursor.execute(
                "SELECT id FROM inventory_stockbucket WHERE id = ANY(%s) ORDER BY id "
                "FOR NO KEY UPDATE",
                [ids],
            )
        cursor.execute(sql, params)
        product_ids = [row[0] for row in cursor.fetchall()]
    if len(product_ids) != len(ordered):
        raise InventoryError(
            "A bucket change was refused: bucket balances disagree with the reservations "
            "holding them. Run inventory_verify.",
            buckets=ids,
        )
    _after_commit(product_ids)


def lock_buckets(level_id: int) -> list[StockBucket]:
    """Lock every bucket of a level in primary-key order. Call with the level locked first."""
    return list(
        StockBucket.objects.select_for_update(no_key=True)
        .filter(stock_level_id=level_id)
        .order_by("pk")
    )


def _free_by_level(level_ids: Iterable[int]) -> dict[int, int]:
    """Free bucket units per level, for the levels that have any. Takes no lock."""
    rows = (
        StockBucket.objects.filter(stock_level_id__in=list(level_ids), allotted__gt=F("reserved"))
        .values("stock_level_id")
        .annotate(free=Sum(F("allotted") - F("reserved")))
        .values_list("stock_level_id", "free")
    )
    return {level_id: int(free) for level_id, free in rows}


def _rebalance_plan(level: StockLevel, buckets: Sequence[StockBucket]) -> dict[int, int]:
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


def _drain_plan(level: StockLevel, buckets: Sequence[StockBucket], units: int) -> dict[int, int]:
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


def _gather_plan(level: StockLevel, buckets: Sequence[StockBucket], units: int) -> dict[int, int]:
    """Allotment deltas that gather `units` free units into the active bucket that has the
    most, from the others: the level's figures do not change."""
    active = [b for b in buckets if b.number < level.bucket_count]
    target = max(active, key=lambda b: (b.free, -b.number))
    deltas = _drain_plan(level, [b for b in buckets if b.pk != target.pk], units - target.free)
    deltas[target.pk] = units - target.free
    return deltas


def _move_allotments(level_id: int, deltas: dict[int, int], ctx: MovementContext) -> None:
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
    free = _free_by_level(m.stock_level_id for m in failed)
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
        _move_allotments(level.pk, _drain_plan(level, buckets, need), ctx)
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
    for level_id in sorted(_free_by_level(short)):
        level = StockLevel.objects.get(pk=level_id)
        buckets = lock_buckets(level_id)
        units = min(short[level_id], sum(b.free for b in buckets))
        if units > 0:
            _move_allotments(level_id, _drain_plan(level, buckets, units), ctx)


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
        actor_api_key_id=ctx.api_key_id,
        actor_api_key_name=ctx.api_key_name,
        source=ctx.source,
        reference=m.reference,
        note=m.note,
        idempotency_key=ctx.idempotency_key,
        created_at=ctx.at,
        occurred_at=ctx.occurred_at,
    )


def _raise_refusal(failed: Sequence[Movement]) -> None:
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
    _after_commit([level.product_id])
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
        _move_allotments(level_id, _drain_plan(level, buckets, units), ctx)
        level = StockLevel.objects.get(pk=level_id)
        buckets = lock_buckets(level_id)
    if level.bucket_count > 0:
        deltas = _rebalance_plan(level, buckets)
    else:
        deltas = {b.pk: -b.free for b in buckets if b.free}
    _move_allotments(level_id, deltas, ctx)


def rebuild_level_balances(level_id: int, balances: dict[str, int]) -> None:
    """Overwrite one level's quantities with balances replayed from its ledger (repair tool).
    Locks the row; writes no ledger row, because the ledger is the truth being restored."""
    lock_levels([level_id])
    StockLevel.objects.filter(pk=level_id).update(**balances, updated_at=timezone.now())


def rebuild_bucket_balances(bucket_id: int, balances: dict[str, int]) -> None:
    """Overwrite one bucket's quantities with balances replayed from its bucket ledger (repair
    tool; no ledger row). Call with its level locked first."""
    StockBucket.objects.filter(pk=bucket_id).update(**balances)
