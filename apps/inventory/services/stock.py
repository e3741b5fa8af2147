"""Stock changes at one location: receive, ship, adjust, count, damage, write off, return,
and the per-level settings (safety stock, thresholds, max level)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Max, Q, Sum
from django.db.models.functions import Coalesce

from apps.accounts.models import User
from apps.apikeys.models import ApiKey
from apps.catalog.models import Product
from apps.core import idempotency
from apps.core.errors import InvalidRequest
from apps.core.models import IdempotencyRecord
from apps.inventory.engine.changes import Movement, MovementContext
from apps.inventory.engine.levels import configure_level
from apps.inventory.engine.locks import ensure_stock_levels, levels_by_pair, lock_levels
from apps.inventory.engine.movements import apply_movements
from apps.inventory.exceptions import CountedSince, InsufficientStock, Shortage
from apps.inventory.models import MAX_BUCKETS, LedgerEntry, Source
from apps.inventory.services import clock
from apps.inventory.services.lines import (
    StockLine,
    aggregate_lines,
    check_owned,
    check_quantity,
    fingerprint_lines,
)
from apps.locations.models import Location
from apps.merchants.models import Merchant

Reason = LedgerEntry.Reason


@dataclass
class StockChangeResult:
    """The ledger entries written (their `*_after` fields are the new balances)."""

    entries: list[LedgerEntry]
    replayed: bool = False
    levels: dict[int, int] = field(default_factory=dict)


# Who asks for a change: a signed-in user, an API key, or nobody (the system).
Actor = User | ApiKey | None


def acting_user(actor: Actor) -> User | None:
    """The user behind `actor` (None for an API key or the system)."""
    return actor if isinstance(actor, User) else None


def movement_context(
    merchant: Merchant,
    actor: Actor,
    source: str,
    key: str,
    *,
    occurred_at: datetime | None = None,
) -> MovementContext:
    """The ledger records a user as `actor`, an API key by its id and name, and when the
    change took effect (`occurred_at`, never later than now) when the caller says."""
    api_key = actor if isinstance(actor, ApiKey) else None
    user = acting_user(actor)
    at = clock.now()
    return MovementContext(
        merchant_id=merchant.pk,
        actor_id=user.pk if user is not None else None,
        source=source,
        idempotency_key=key,
        at=at,
        api_key_id=api_key.pk if api_key is not None else None,
        api_key_name=api_key.name if api_key is not None else "",
        occurred_at=None if occurred_at is None else min(occurred_at, at),
    )


@dataclass(frozen=True)
class Since:
    """What the ledger recorded for one level after a moment."""

    on_hand: int = 0  # the on-hand movements that took effect after it, from every source
    counted_at: datetime | None = None  # the latest count that took effect after it


def movements_since(level_ids: dict[tuple[int, int], int], moment: datetime) -> dict[int, Since]:
    """Per level (by id): the on-hand movements that took effect after `moment` (a movement
    takes effect at its `occurred_at`, else when recorded) and the latest count among them,
    in one query. Call with the levels locked by this transaction: every writer of a level
    holds its row lock until it commits, so nothing can be added to what this reads."""
    rows = (
        LedgerEntry.objects.filter(
            product_id__in={product_id for product_id, _ in level_ids},
            stock_level_id__in=list(level_ids.values()),
            # Implied by the next filter (occurred_at is never after created_at); lets the
            # (product, created_at) index skip everything older.
            created_at__gt=moment,
        )
        .annotate(effective_at=Coalesce("occurred_at", "created_at"))
        .filter(effective_at__gt=moment)
        .values("stock_level_id")
        .annotate(
            moved=Sum("on_hand_delta"),
            counted_at=Max("effective_at", filter=Q(reason=Reason.COUNT)),
        )
        .order_by()
    )
    return {row["stock_level_id"]: Since(row["moved"], row["counted_at"]) for row in rows}


def _refuse_if_counted_since(line: StockLine, since: Since, moment: datetime) -> None:
    if since.counted_at is not None:
        raise CountedSince(
            sku=line.product.sku,
            location=line.location.code,
            occurred_at=moment.isoformat(),
            counted_at=since.counted_at.isoformat(),
        )


def replay_entries(merchant: Merchant, record: IdempotencyRecord) -> list[LedgerEntry]:
    """The entries written under the claimed key: since its claim (a key past the retention
    window may have been used again; its earlier entries are not this call's)."""
    return list(
        LedgerEntry.objects.filter(
            merchant=merchant, idempotency_key=record.key, created_at__gte=record.created_at
        ).order_by("id")
    )


def _apply_lines(
    *,
    operation: str,
    merchant: Merchant,
    lines: Sequence[StockLine],
    actor: Actor,
    idempotency_key: str,
    source: str,
    reference: str,
    note: str,
    to_movement: Callable[[StockLine, int], Movement],
    create_levels: bool,
    allow_negative: bool = False,
    occurred_at: datetime | None = None,
) -> StockChangeResult:
    key = idempotency.validate_key(idempotency_key)
    merged = aggregate_lines(merchant, lines, allow_negative=allow_negative)
    request = {"lines": fingerprint_lines(merged), "reference": reference, "note": note}
    if occurred_at is not None:
        request["occurred_at"] = occurred_at.isoformat()
    previous = idempotency.claim(
        merchant_id=merchant.pk, key=key, operation=operation, request=request, result={}
    )
    if previous is not None:
        return StockChangeResult(entries=replay_entries(merchant, previous), replayed=True)
    pairs = [(line.product.pk, line.location.pk) for line in merged]
    level_ids = ensure_stock_levels(merchant.pk, pairs) if create_levels else levels_by_pair(pairs)
    missing = [line for line in merged if (line.product.pk, line.location.pk) not in level_ids]
    if missing:
        # No stock level means nothing was ever there: every unit asked for is short.
        raise InsufficientStock(
            [
                Shortage(
                    sku=line.product.sku,
                    location=line.location.code,
                    requested=abs(line.quantity),
                    available=0,
                )
                for line in missing
            ]
        )
    ctx = movement_context(merchant, actor, source, key, occurred_at=occurred_at)
    if ctx.occurred_at is not None:
        # A late report of a past movement: a count taken after it already holds it.
        lock_levels(level_ids.values())
        since = movements_since(level_ids, ctx.occurred_at)
        for line in merged:
            level_since = since.get(level_ids[(line.product.pk, line.location.pk)], Since())
            _refuse_if_counted_since(line, level_since, ctx.occurred_at)
    movements = [
        dataclasses.replace(
            to_movement(line, level_ids[(line.product.pk, line.location.pk)]),
            reference=reference,
            note=note,
        )
        for line in merged
    ]
    entries = apply_movements(movements, ctx)
    return StockChangeResult(entries=entries)


@transaction.atomic
def stock_receive(
    *,
    merchant: Merchant,
    lines: Sequence[StockLine],
    actor: Actor,
    idempotency_key: str,
    source: str = Source.SYSTEM,
    reference: str = "",
    note: str = "",
    occurred_at: datetime | None = None,
) -> StockChangeResult:
    """Units arrive (supplier delivery, production): on_hand goes up. Refused past max_level.
    `occurred_at` (a late report, e.g. from a POS feed): when it really happened. A count
    taken after that moment already reflects it: refused with CountedSince, nothing changed.
    """
    return _apply_lines(
        operation="stock.receive",
        merchant=merchant,
        lines=lines,
        actor=actor,
        idempotency_key=idempotency_key,
        source=source,
        reference=reference,
        note=note,
        occurred_at=occurred_at,
        create_levels=True,
        to_movement=lambda line, level_id: Movement(
            stock_level_id=level_id,
            reason=Reason.RECEIVE,
            requested=line.quantity,
            on_hand=line.quantity,
            respect_max_level=True,
            expected_version=line.expected_version,
        ),
    )


@transaction.atomic
def stock_ship(
    *,
    merchant: Merchant,
    lines: Sequence[StockLine],
    actor: Actor,
    idempotency_key: str,
    source: str = Source.SYSTEM,
    reference: str = "",
    note: str = "",
    occurred_at: datetime | None = None,
) -> StockChangeResult:
    """A direct sale (POS, manual shipment) without a reservation: on_hand goes down.
    Takes only unreserved units; may dig into safety stock, which guards reservations.
    `occurred_at` (a late report, e.g. from a POS feed): when it really happened. A count
    taken after that moment already reflects it: refused with CountedSince, nothing changed.
    """
    return _apply_lines(
        operation="stock.ship",
        merchant=merchant,
        lines=lines,
        actor=actor,
        idempotency_key=idempotency_key,
        source=source,
        reference=reference,
        note=note,
        occurred_at=occurred_at,
        create_levels=False,
        to_movement=lambda line, level_id: Movement(
            stock_level_id=level_id,
            reason=Reason.SALE,
            requested=line.quantity,
            on_hand=-line.quantity,
            expected_version=line.expected_version,
        ),
    )


@transaction.atomic
def stock_adjust(
    *,
    merchant: Merchant,
    lines: Sequence[StockLine],
    reason: str,
    actor: Actor,
    idempotency_key: str,
    source: str = Source.SYSTEM,
    reference: str = "",
) -> StockChangeResult:
    """Correct on_hand by a signed delta (`quantity`), with a reason that is kept in the ledger.
    A decrease may not go below the reserved units."""
    reason_text = (reason or "").strip()
    if not reason_text:
        raise InvalidRequest("An adjustment needs a reason.", field="reason")
    return _apply_lines(
        operation="stock.adjust",
        merchant=merchant,
        lines=lines,
        actor=actor,
        idempotency_key=idempotency_key,
        source=source,
        reference=reference,
        note=reason_text[:500],
        create_levels=all(line.quantity > 0 for line in lines),
        allow_negative=True,
        to_movement=lambda line, level_id: Movement(
            stock_level_id=level_id,
            reason=Reason.ADJUST,
            requested=abs(line.quantity),
            on_hand=line.quantity,
            expected_version=line.expected_version,
        ),
    )


@transaction.atomic
def stock_damage(
    *,
    merchant: Merchant,
    lines: Sequence[StockLine],
    actor: Actor,
    idempotency_key: str,
    source: str = Source.SYSTEM,
    reference: str = "",
    note: str = "",
) -> StockChangeResult:
    """Move units from on_hand to damaged (quarantined, not sellable)."""
    return _apply_lines(
        operation="stock.damage",
        merchant=merchant,
        lines=lines,
        actor=actor,
        idempotency_key=idempotency_key,
        source=source,
        reference=reference,
        note=note,
        create_levels=False,
        to_movement=lambda line, level_id: Movement(
            stock_level_id=level_id,
            reason=Reason.DAMAGE,
            requested=line.quantity,
            on_hand=-line.quantity,
            damaged=line.quantity,
            expected_version=line.expected_version,
        ),
    )


@transaction.atomic
def stock_write_off(
    *,
    merchant: Merchant,
    lines: Sequence[StockLine],
    actor: Actor,
    idempotency_key: str,
    source: str = Source.SYSTEM,
    reference: str = "",
    note: str = "",
) -> StockChangeResult:
    """Dispose of damaged units: damaged goes down."""
    return _apply_lines(
        operation="stock.write_off",
        merchant=merchant,
        lines=lines,
        actor=actor,
        idempotency_key=idempotency_key,
        source=source,
        reference=reference,
        note=note,
        create_levels=False,
        to_movement=lambda line, level_id: Movement(
            stock_level_id=level_id,
            reason=Reason.WRITE_OFF,
            requested=line.quantity,
            damaged=-line.quantity,
            expected_version=line.expected_version,
        ),
    )


@transaction.atomic
def stock_return(
    *,
    merchant: Merchant,
    lines: Sequence[StockLine],
    actor: Actor,
    idempotency_key: str,
    restock: bool = True,
    source: str = Source.SYSTEM,
    reference: str = "",
    note: str = "",
    occurred_at: datetime | None = None,
) -> StockChangeResult:
    """Sold units come back: to on_hand when `restock`, else to damaged.
    `occurred_at` (a late report, e.g. from a POS feed): when it really happened. A count
    taken after that moment already reflects it: refused with CountedSince, nothing changed.
    """
    return _apply_lines(
        operation="stock.return.restock" if restock else "stock.return.damaged",
        merchant=merchant,
        lines=lines,
        actor=actor,
        idempotency_key=idempotency_key,
        source=source,
        reference=reference,
        note=note,
        occurred_at=occurred_at,
        create_levels=True,
        to_movement=lambda line, level_id: Movement(
            stock_level_id=level_id,
            reason=Reason.RETURN,
            requested=line.quantity,
            on_hand=line.quantity if restock else 0,
            damaged=0 if restock else line.quantity,
            expected_version=line.expected_version,
        ),
    )


@transaction.atomic
def stock_count(
    *,
    merchant: Merchant,
    lines: Sequence[StockLine],
    actor: Actor,
    idempotency_key: str,
    source: str = Source.SYSTEM,
    reference: str = "",
    note: str = "",
    counted_at: datetime | None = None,
) -> StockChangeResult:
    """Record cycle counts: each line's `quantity` is the counted on_hand. The ledger row
    carries the variance (counted - system). A count below the reserved units is refused.

    `counted_at` (a count reported late, e.g. by a POS feed): the moment the quantity was
    counted. The level becomes the counted quantity plus every on-hand movement that took
    effect after that moment, from any source (sales, commits, receipts, transfers,
    adjustments, returns, damage), so a late count never brings back units sold since. A
    count taken after that moment supersedes it: refused with CountedSince."""
    key = idempotency.validate_key(idempotency_key)
    merged = aggregate_lines(merchant, lines, allow_zero=True, sum_duplicates=False)
    request = {"lines": fingerprint_lines(merged), "reference": reference, "note": note}
    if counted_at is not None:
        request["counted_at"] = counted_at.isoformat()
    previous = idempotency.claim(
        merchant_id=merchant.pk, key=key, operation="stock.count", request=request, result={}
    )
    if previous is not None:
        return StockChangeResult(entries=replay_entries(merchant, previous), replayed=True)
    level_ids = ensure_stock_levels(
        merchant.pk, [(line.product.pk, line.location.pk) for line in merged]
    )
    ctx = movement_context(merchant, actor, source, key, occurred_at=counted_at)
    # The variance needs the current on_hand (and, for a count as of a past moment, what moved
    # since): read under the row lock, then applied as a compare-and-set delta, so nothing can
    # change between the read and the write.
    locked = lock_levels(level_ids.values())
    since = movements_since(level_ids, ctx.occurred_at) if ctx.occurred_at is not None else {}
    movements = []
    for line in merged:
        level = locked[level_ids[(line.product.pk, line.location.pk)]]
        on_hand = line.quantity
        if ctx.occurred_at is not None:
            level_since = since.get(level.pk, Since())
            _refuse_if_counted_since(line, level_since, ctx.occurred_at)
            on_hand += level_since.on_hand
            if on_hand < 0:
                raise InvalidRequest(
                    f"{line.product.sku} at {line.location.code}: counted {line.quantity} at "
                    f"{ctx.occurred_at.isoformat()}, but {-level_since.on_hand} more units "
                    "left after that than arrived: the count cannot be right.",
                    field="quantity",
                )
        movements.append(
            Movement(
                stock_level_id=level.pk,
                reason=Reason.COUNT,
                requested=line.quantity,
                on_hand=on_hand - level.on_hand,
                expected_version=line.expected_version,
                expected_on_hand=level.on_hand,
                reference=reference,
                note=note,
            )
        )
    entries = apply_movements(movements, ctx)
    return StockChangeResult(entries=entries)


LEVEL_SETTINGS = (
    "safety_stock", "low_stock_threshold", "reorder_point", "max_level", "bucket_count",
)  # fmt: skip


def _check_bucket_count(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_BUCKETS:
        raise InvalidRequest(
            f"bucket_count must be a whole number from 0 (off) to {MAX_BUCKETS}.",
            field="bucket_count",
        )
    if value and connection.vendor != "postgresql":
        raise InvalidRequest(
            "Stock buckets need PostgreSQL; this database cannot take reservations from "
            "buckets. Keep bucket_count at 0.",
            field="bucket_count",
        )


@transaction.atomic
def stock_level_configure(
    *,
    merchant: Merchant,
    product: Product,
    location: Location,
    actor: Actor,
    idempotency_key: str,
    source: str = Source.SYSTEM,
    expected_version: int | None = None,
    **settings: int | None,
) -> StockChangeResult:
    """Set safety stock, low-stock threshold, reorder point, max level (None clears it) and/or
    bucket count. Bumps the version and writes a `configure` ledger row.

    `bucket_count` > 0 splits the level's reservable units over that many buckets, which
    one-line reservations take from without locking the level row (for a SKU too hot for one
    row); 0 turns it off and gives the free bucket units back to the level. Either way the
    units move under the level's lock, with their ledger rows (see docs/stock-model.md)."""
    key = idempotency.validate_key(idempotency_key)
    check_owned(merchant, product=product, location=location)
    unknown = set(settings) - set(LEVEL_SETTINGS)
    if unknown:
        raise InvalidRequest(
            f"Unknown setting(s): {', '.join(sorted(unknown))}.", field=sorted(unknown)[0]
        )
    if not settings:
        raise InvalidRequest("Nothing to change.", field="settings")
    if "bucket_count" in settings:
        _check_bucket_count(settings["bucket_count"])
    for name, value in settings.items():
        if value is None and name != "max_level":
            raise InvalidRequest(f"{name} cannot be empty.", field=name)
        if value is not None:
            try:
                check_quantity(value, allow_zero=True)
            except InvalidRequest as error:
                raise InvalidRequest(f"{name}: {error.message}", field=name) from error
    request = {
        "product": product.pk,
        "location": location.pk,
        "settings": settings,
        "v": expected_version,
    }
    previous = idempotency.claim(
        merchant_id=merchant.pk, key=key, operation="stock.configure", request=request, result={}
    )
    if previous is not None:
        return StockChangeResult(entries=replay_entries(merchant, previous), replayed=True)
    level_id = ensure_stock_levels(merchant.pk, [(product.pk, location.pk)])[
        (product.pk, location.pk)
    ]
    entry = configure_level(
        level_id,
        settings,
        movement_context(merchant, actor, source, key),
        expected_version=expected_version,
    )
    return StockChangeResult(entries=[entry])
