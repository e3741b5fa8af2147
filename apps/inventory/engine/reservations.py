"""One-line reservations at a given location, the hot path: the reservation, its line, the
stock change, the ledger and outbox rows in one statement, on the level row or, for a bucketed
level, on one of its buckets; and the slow path under the level's lock when that statement
finds no room (PostgreSQL only). `reserve_by_code` goes one step further: the codes, the
idempotency claim and the response to replay in the same statement, in autocommit."""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from django.db import IntegrityError, connection, transaction
from django.db.models import UniqueConstraint

from apps.core.models import IdempotencyRecord
from apps.inventory.engine import statements
from apps.inventory.engine.buckets import drain_plan, gather_plan, rebalance_plan
from apps.inventory.engine.changes import CodedReservation, Movement, MovementContext
from apps.inventory.engine.cursors import prepared_cursor
from apps.inventory.engine.locks import lock_buckets, lock_levels
from apps.inventory.engine.movements import move_allotments
from apps.inventory.engine.notify import after_commit
from apps.inventory.engine.refusals import raise_refusal
from apps.inventory.exceptions import InsufficientStock, Shortage
from apps.inventory.models import MAX_BUCKETS, LedgerEntry, StockBucket, StockLevel

Reason = LedgerEntry.Reason


@dataclasses.dataclass(frozen=True)
class HeldLine:
    """What `reserve_into_new_reservation` wrote: the reservation line, on the level itself
    or on one of its buckets."""

    stock_level_id: int
    line_id: int
    bucket_id: int | None = None


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
        raise_refusal([_reserve_movement(state.level_id, quantity, reservation)])
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


@dataclasses.dataclass(frozen=True)
class ByCode:
    """What `reserve_by_code_statement` found and wrote for one request of its batch."""

    line_id: int | None  # the new reservation's line: its units are held
    prior_fingerprint: str | None  # the key's retained record, when there is one
    prior_result: dict[str, Any] | None
    prior_response_status: int | None
    prior_response_body: Any
    product_id: int | None
    product_active: bool | None
    location_id: int | None
    location_status: str | None
    stock_level_id: int | None
    bucket_count: int | None
    on_hand: int | None  # the level's figures after the batch (or as the snapshot saw them)
    reserved: int | None
    safety_stock: int | None

    @property
    def available(self) -> int:
        """What is left to reserve at the level (no bucket on such a level)."""
        if self.stock_level_id is None:
            return 0
        return max(self.on_hand - self.reserved - self.safety_stock, 0)


# The unique index a second claim of the same key runs into.
_CLAIM_CONSTRAINT = next(
    c.name for c in IdempotencyRecord._meta.constraints if isinstance(c, UniqueConstraint)
)


def reserve_by_code(
    *,
    merchant_id: int,
    sku: str,
    location_code: str,
    requests: Sequence[CodedReservation],
    operation: str,
    retained_since: datetime,
    at: datetime,
) -> list[ByCode] | None:
    """Run `reserve_by_code_statement` (PostgreSQL) for a batch of orders of one SKU at one
    location: ONE round trip, which in autocommit is the whole transaction. Returns what it
    found and wrote for each request, in order; or None when a key's claim collided with a
    record the statement could not see (a concurrent call with the same key, or a record past
    retention to take over), in which case nothing was written and the callers take the
    transactional path. Inside an atomic block the statement runs in a savepoint, so that such
    a collision leaves the caller's transaction usable."""
    sql, params = statements.reserve_by_code_statement(
        merchant_id=merchant_id,
        sku=sku,
        location_code=location_code,
        requests=requests,
        operation=operation,
        retained_since=retained_since,
        at=at,
    )
    try:
        with (
            transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext(),
            prepared_cursor() as cursor,
        ):
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    except IntegrityError as error:
        if getattr(getattr(error.__cause__, "diag", None), "constraint_name", None) == (
            _CLAIM_CONSTRAINT
        ):
            return None
        raise
    found = [ByCode(*row) for row in rows]
    held = [f for f in found if f.line_id is not None]
    if held:
        after_commit([held[0].product_id])
    return found


@dataclasses.dataclass(frozen=True)
class Closed:
    """What `close_statement` did: the response document (JSON text) when it closed the
    reservation, and the key's retained record when there was one."""

    document: str | None
    product_ids: list[int] | None
    prior_fingerprint: str | None
    prior_response_status: int | None


def close_in_one_statement(
    *,
    merchant_id: int,
    reservation_id: Any,
    commit: bool,
    reason: str,
    ctx: MovementContext,
    operation: str,
    fingerprint: str,
    request: str,
    retained_since: datetime,
) -> Closed | None:
    """Run `close_statement`: one round trip (the whole transaction in autocommit). None when
    the key's claim collided with a record the statement could not see (nothing written)."""
    sql, params = statements.close_statement(
        merchant_id=merchant_id,
        reservation_id=reservation_id,
        commit=commit,
        reason=reason,
        ctx=ctx,
        operation=operation,
        fingerprint=fingerprint,
        request=request,
        retained_since=retained_since,
    )
    try:
        with (
            transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext(),
            prepared_cursor() as cursor,
        ):
            cursor.execute(sql, params)
            row = cursor.fetchone()
    except IntegrityError as error:
        if getattr(getattr(error.__cause__, "diag", None), "constraint_name", None) == (
            _CLAIM_CONSTRAINT
        ):
            return None
        raise
    closed = Closed(*row)
    if closed.document is not None:
        after_commit(closed.product_ids or [])
    return closed


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
    sql, params = statements.reserve_statement(
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
    after_commit([product_id])
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
    sql, params = statements.bucket_reserve_statement(
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
            cursor.execute(f"{statements.PICK_SAVEPOINT}; {sql}", params)
            cursor.nextset()
        else:
            cursor.execute(statements.PICK_SAVEPOINT)
            cursor.execute(sql, params)
        row = cursor.fetchone()
        if row is None and savepoint:
            cursor.execute(statements.PICK_ROLLBACK)
    if row is None:
        return None
    after_commit([product_id])
    level_id, bucket_id, line_id = row
    return HeldLine(stock_level_id=level_id, line_id=line_id, bucket_id=bucket_id)


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
        cursor.execute(statements.RESERVABLE, [merchant_id, product_id, location_id])
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
        move_allotments(level_id, rebalance_plan(level, buckets), ctx)
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
        move_allotments(level_id, gather_plan(level, buckets, quantity), ctx)
        held = _run_bucket_reserve(**args, sku=sku, location_code=location_code, savepoint=False)
    else:
        if own < quantity:
            move_allotments(level_id, drain_plan(level, buckets, quantity - own), ctx)
        held = _run_level_reserve(**args)
    if held is None:  # cannot happen under the locks; refuse rather than guess
        raise_refusal([_reserve_movement(level_id, quantity, reservation)])
    return held


def _current(level_id: int) -> tuple[StockLevel, list[StockBucket]]:
    """A level and its buckets as they are now (call with them locked by this transaction)."""
    level = StockLevel.objects.get(pk=level_id)
    return level, list(StockBucket.objects.filter(stock_level_id=level_id).order_by("pk"))
