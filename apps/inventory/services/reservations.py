"""Reservations: hold units for an order (reserve), then sell them (commit), give them back
(release) or let the TTL run out (expire)."""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Prefetch, Q

from apps.catalog.models import Product
from apps.core import idempotency
from apps.core.errors import InvalidRequest, InvalidState, ObjectNotFound
from apps.inventory.engine.buckets import apply_bucket_changes
from apps.inventory.engine.changes import BucketChange, Movement, MovementContext
from apps.inventory.engine.locks import levels_by_pair, lock_levels
from apps.inventory.engine.movements import apply_movements, keep_safety_stock
from apps.inventory.engine.reservations import reserve_into_new_reservation
from apps.inventory.exceptions import (
    InsufficientStock,
    LocationUnavailable,
    ProductInactive,
    Shortage,
)
from apps.inventory.models import (
    LedgerEntry,
    Reservation,
    ReservationLine,
    Source,
    StockLevel,
)
from apps.inventory.outbox import RESERVATION_EXPIRED, outbox_append
from apps.inventory.services import clock
from apps.inventory.services.allocation import distance_km
from apps.inventory.services.lines import MAX_LINES, check_owned, check_quantity
from apps.inventory.services.stock import Actor, acting_user, movement_context
from apps.inventory.services.substitutes import hold_with_substitutes, substitutable_requests
from apps.locations.models import Location
from apps.merchants.models import Merchant

Reason = LedgerEntry.Reason
Status = Reservation.Status
ALLOCATION_ATTEMPTS = 3
OPERATION = "reservation.create"  # the idempotency record's operation


@dataclass(frozen=True)
class ReservationLineRequest:
    """A line to reserve. Without a location, units are allocated across the merchant's active
    locations by fulfilment priority (or nearest first when the caller gives coordinates).
    `substitutes`: when the SKU is short, other products of its substitution group make up
    the rest (see apps/inventory/services/substitutes.py)."""

    product: Product
    quantity: int
    location: Location | None = None
    substitutes: bool = False


def ttl_seconds_checked(ttl_seconds: int | None) -> int:
    """The reservation's TTL: the default when None, else a whole number within the maximum."""
    if ttl_seconds is None:
        return settings.STOCKROOM_RESERVATION_TTL_SECONDS
    maximum = settings.STOCKROOM_RESERVATION_MAX_TTL_SECONDS
    if (
        isinstance(ttl_seconds, bool)
        or not isinstance(ttl_seconds, int)
        or not 1 <= ttl_seconds <= maximum
    ):
        raise InvalidRequest(
            f"ttl_seconds must be a whole number from 1 to {maximum}.", field="ttl_seconds"
        )
    return ttl_seconds


def _merge_requests(
    merchant: Merchant, lines: Sequence[ReservationLineRequest]
) -> dict[tuple[Product, Location | None], int]:
    if not lines:
        raise InvalidRequest("At least one line is required.", field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidRequest(f"At most {MAX_LINES:,} lines per reservation.", field="lines")
    merged: dict[tuple[int, int | None], int] = defaultdict(int)
    objects: dict[tuple[int, int | None], tuple[Product, Location | None]] = {}
    for line in lines:
        check_owned(merchant, product=line.product, location=line.location)
        check_quantity(line.quantity)
        if not line.product.is_active:
            raise ProductInactive(sku=line.product.sku)
        if line.location is not None and not line.location.takes_reservations:
            raise LocationUnavailable(location=line.location.code, status=line.location.status)
        key = (line.product.pk, line.location.pk if line.location else None)
        merged[key] += line.quantity
        objects[key] = (line.product, line.location)
    for quantity in merged.values():
        check_quantity(quantity)
    return {objects[key]: quantity for key, quantity in merged.items()}


def _allocate(
    merchant: Merchant, product: Product, quantity: int, near: tuple[float, float] | None
) -> list[tuple[StockLevel, int]]:
    """Split `quantity` over active locations by priority (or distance). Reads without locks;
    the guarded update that follows is what makes it safe."""
    candidates = [
        level
        for level in StockLevel.objects.with_buckets()
        .select_related("location")
        .filter(merchant=merchant, product=product, location__status=Location.Status.ACTIVE)
        .filter(Q(on_hand__gt=F("reserved") + F("safety_stock")) | Q(bucket_free__gt=0))
        .order_by("location__priority", "location__code")
        if level.available > 0
    ]
    if near is not None:
        candidates.sort(
            key=lambda level: (distance_km(level.location, near), level.location.priority)
        )
    plan, remaining = [], quantity
    for level in candidates:
        take = min(level.available, remaining)
        if take > 0:
            plan.append((level, take))
            remaining -= take
        if remaining == 0:
            return plan
    available = sum(level.available for level in candidates)
    raise InsufficientStock(
        [Shortage(sku=product.sku, location=None, requested=quantity, available=available)]
    )


def _hold(
    reservation: Reservation,
    requests: dict[tuple[Product, Location | None], int],
    near: tuple[float, float] | None,
    ctx: MovementContext,
) -> list[ReservationLine]:
    """Allocate, write the reservation lines, then reserve stock with one guarded statement.
    Lines are written before the stock update so that the update is the last statement
    before commit: the row locks are held as briefly as possible."""
    fixed = {req: qty for req, qty in requests.items() if req[1] is not None}
    level_ids = levels_by_pair([(p.pk, loc.pk) for p, loc in fixed])
    shortages = [
        Shortage(sku=p.sku, location=loc.code, requested=qty, available=0)
        for (p, loc), qty in fixed.items()
        if (p.pk, loc.pk) not in level_ids
    ]
    if shortages:
        raise InsufficientStock(shortages)
    per_level: dict[int, list] = {}
    for (product, location), quantity in fixed.items():
        per_level[level_ids[(product.pk, location.pk)]] = [product, location, quantity]
    for (product, location), quantity in requests.items():
        if location is not None:
            continue
        for level, take in _allocate(reservation.merchant, product, quantity, near):
            entry = per_level.setdefault(level.pk, [product, level.location, 0])
            entry[2] += take
    lines = ReservationLine.objects.bulk_create(
        [
            ReservationLine(
                reservation=reservation,
                stock_level_id=level_id,
                product=product,
                location=location,
                quantity=quantity,
            )
            for level_id, (product, location, quantity) in sorted(per_level.items())
        ]
    )
    reference = f"reservation:{reservation.pk}"
    apply_movements(
        [
            Movement(
                stock_level_id=line.stock_level_id,
                reason=Reason.RESERVE,
                requested=line.quantity,
                reserved=line.quantity,
                respect_safety_stock=True,
                reference=reference,
            )
            for line in lines
        ],
        ctx,
    )
    return lines


@transaction.atomic
def reservation_create(
    *,
    merchant: Merchant,
    lines: Sequence[ReservationLineRequest],
    actor: Actor,
    idempotency_key: str,
    ttl_seconds: int | None = None,
    order_ref: str = "",
    near: tuple[float, float] | None = None,
    source: str = Source.SYSTEM,
) -> Reservation:
    """Reserve every line or nothing. Returns the active reservation with its allocated lines
    (`reservation.replayed` is True when the idempotency key was seen before)."""
    key = idempotency.validate_key(idempotency_key)
    ttl = ttl_seconds_checked(ttl_seconds)
    requests = _merge_requests(merchant, lines)
    substitutable = substitutable_requests(lines)
    request = {
        "lines": sorted([p.pk, loc.pk if loc else None, q] for (p, loc), q in requests.items()),
        "ttl": ttl_seconds,
        "order_ref": order_ref,
        "near": near,
    }
    if substitutable:
        request["substitutes"] = sorted([p, loc or 0] for p, loc in substitutable)
    reservation_id = uuid.uuid4()
    previous = idempotency.claim(
        merchant_id=merchant.pk,
        key=key,
        operation=OPERATION,
        request=request,
        result={"reservation_id": str(reservation_id)},
    )
    if previous is not None:
        return _replayed(merchant, previous.result["reservation_id"])
    ctx = movement_context(merchant, actor, source, key)
    if (
        connection.vendor == "postgresql"
        and len(requests) == 1
        and _single_location(requests)
        and not substitutable
    ):
        return _hold_one_line(merchant, reservation_id, requests, order_ref, ttl, source, ctx)
    reservation = Reservation.objects.create(
        id=reservation_id,
        merchant=merchant,
        order_ref=order_ref[:200],
        expires_at=ctx.at + timedelta(seconds=ttl),
        source=source,
        created_by=acting_user(actor),
        created_at=ctx.at,
    )
    hold = (
        functools.partial(hold_with_substitutes, substitutable=substitutable)
        if substitutable
        else _hold
    )
    if all(location is not None for _, location in requests) and not substitutable:
        created = _hold(reservation, requests, near, ctx)
    else:
        # Allocation (and substitution) reads availability without locks; if a concurrent
        # reservation wins the units in between, the guarded update refuses and we plan again
        # from fresh figures.
        for attempt in range(ALLOCATION_ATTEMPTS):
            try:
                with transaction.atomic():
                    created = hold(reservation, requests, near, ctx)
                break
            except InsufficientStock:
                if attempt == ALLOCATION_ATTEMPTS - 1:
                    raise
    reservation._prefetched_objects_cache = {"lines": created}
    reservation.replayed = False
    return reservation


def _single_location(requests: dict[tuple[Product, Location | None], int]) -> bool:
    return all(location is not None for _, location in requests)


def _hold_one_line(
    merchant: Merchant,
    reservation_id: uuid.UUID,
    requests: dict[tuple[Product, Location | None], int],
    order_ref: str,
    ttl: int,
    source: str,
    ctx: MovementContext,
) -> Reservation:
    """The hot path (one line at a given location): the reservation, its line, the stock change,
    the ledger and outbox rows in one statement, the row lock held only until COMMIT."""
    [((product, location), quantity)] = requests.items()
    reservation = Reservation(
        id=reservation_id,
        merchant=merchant,
        status=Status.ACTIVE,
        order_ref=order_ref[:200],
        expires_at=ctx.at + timedelta(seconds=ttl),
        source=source,
        created_by_id=ctx.actor_id,
        created_at=ctx.at,
    )
    held = reserve_into_new_reservation(
        product_id=product.pk,
        location_id=location.pk,
        quantity=quantity,
        reservation={
            "id": reservation.pk,
            "status": reservation.status,
            "order_ref": reservation.order_ref,
            "expires_at": reservation.expires_at,
        },
        ctx=ctx,
        sku=product.sku,
        location_code=location.code,
    )
    if held is None:
        raise InsufficientStock(
            [Shortage(sku=product.sku, location=location.code, requested=quantity, available=0)]
        )
    reservation._state.adding = False
    reservation._state.db = connection.alias
    line = ReservationLine(
        id=held.line_id,
        reservation=reservation,
        stock_level_id=held.stock_level_id,
        product=product,
        location=location,
        quantity=quantity,
        bucket_id=held.bucket_id,
    )
    line._state.adding = False
    line._state.db = connection.alias
    reservation._prefetched_objects_cache = {"lines": [line]}
    reservation.replayed = False
    return reservation


def _replayed(merchant: Merchant, reservation_id: str) -> Reservation:
    lines = ReservationLine.objects.select_related("product", "location", "substitute_for")
    reservation = Reservation.objects.prefetch_related(Prefetch("lines", queryset=lines)).get(
        pk=reservation_id, merchant=merchant
    )
    reservation.replayed = True
    return reservation


def _get(merchant: Merchant, reservation_id: uuid.UUID | str) -> Reservation:
    try:
        return Reservation.objects.get(pk=reservation_id, merchant=merchant)
    except (Reservation.DoesNotExist, ValueError, TypeError, ValidationError):
        raise ObjectNotFound(
            f"Reservation {reservation_id} not found.", reservation=str(reservation_id)
        ) from None


def _close_lines(
    reservation_id: uuid.UUID, reason: str, ctx: MovementContext, *, commit: bool
) -> None:
    """Give back (or, on commit, sell) the units of every line. Lines on a level: its reserved
    goes down (and on_hand, on commit). Lines on a bucket: the bucket's reserved goes down,
    the level row untouched; a commit also takes the sold units out of the bucket's allotment
    and out of the level's on_hand and reserved. Levels change before buckets (the global lock
    order)."""
    per_level: dict[int, int] = defaultdict(int)
    per_bucket: dict[int, int] = defaultdict(int)
    returning_to_buckets: set[int] = set()
    for level_id, bucket_id, quantity in ReservationLine.objects.filter(
        reservation_id=reservation_id
    ).values_list("stock_level_id", "bucket_id", "quantity"):
        if bucket_id is None or commit:
            per_level[level_id] += quantity
        if bucket_id is not None:
            per_bucket[bucket_id] += quantity
            if not commit:
                returning_to_buckets.add(level_id)
    if returning_to_buckets:
        # Units going back to a bucket may have to go on to the level (safety stock, below):
        # lock every level first, in the global order, before any bucket.
        lock_levels([*per_level, *returning_to_buckets])
    reference = f"reservation:{reservation_id}"
    apply_movements(
        [
            Movement(
                stock_level_id=level_id,
                reason=reason,
                requested=quantity,
                reserved=-quantity,
                on_hand=-quantity if commit else 0,
                reference=reference,
            )
            for level_id, quantity in per_level.items()
        ],
        ctx,
    )
    apply_bucket_changes(
        [
            BucketChange(
                bucket_id=bucket_id,
                reason=reason,
                reserved=-quantity,
                allotted=-quantity if commit else 0,
                reference=reference,
            )
            for bucket_id, quantity in per_bucket.items()
        ],
        ctx,
    )
    if returning_to_buckets:
        keep_safety_stock(returning_to_buckets, ctx)


def _transition(
    merchant: Merchant, reservation_id: uuid.UUID | str, *, to: str, now: datetime, unexpired: bool
) -> bool:
    """Move an active reservation to `to` with one conditional UPDATE: of several concurrent
    callers exactly one sees 1 row updated, so stock is released or sold exactly once."""
    rows = Reservation.objects.filter(pk=reservation_id, merchant=merchant, status=Status.ACTIVE)
    if unexpired:
        rows = rows.filter(expires_at__gt=now)
    return rows.update(status=to, closed_at=now) == 1


def _claim_or_replay(
    merchant: Merchant, key: str, operation: str, reservation_id: object
) -> Reservation | None:
    previous = idempotency.claim(
        merchant_id=merchant.pk,
        key=idempotency.validate_key(key),
        operation=operation,
        request={"reservation": str(reservation_id)},
        result={"reservation_id": str(reservation_id)},
    )
    return _replayed(merchant, str(reservation_id)) if previous is not None else None


@transaction.atomic
def reservation_commit(
    *,
    merchant: Merchant,
    reservation_id: uuid.UUID | str,
    actor: Actor,
    idempotency_key: str,
    source: str = Source.SYSTEM,
) -> Reservation:
    """The sale: reserved and on_hand go down by each line. Refused unless active and unexpired."""
    reservation = _get(merchant, reservation_id)
    replay = _claim_or_replay(merchant, idempotency_key, "reservation.commit", reservation.pk)
    if replay is not None:
        return replay
    ctx = movement_context(merchant, actor, source, idempotency_key)
    if not _transition(merchant, reservation.pk, to=Status.COMMITTED, now=ctx.at, unexpired=True):
        reservation.refresh_from_db()
        if reservation.status == Status.ACTIVE:
            raise InvalidState(
                f"Reservation {reservation.pk} expired at {reservation.expires_at.isoformat()} and "
                "can no longer be committed. Create a new reservation.",
                status="expired",
                expires_at=reservation.expires_at.isoformat(),
            )
        raise InvalidState(
            f"Reservation {reservation.pk} is {reservation.status} and cannot be committed.",
            status=reservation.status,
        )
    _close_lines(reservation.pk, Reason.COMMIT, ctx, commit=True)
    return _replayed_state(reservation, Status.COMMITTED, ctx.at)


@transaction.atomic
def reservation_release(
    *,
    merchant: Merchant,
    reservation_id: uuid.UUID | str,
    actor: Actor,
    idempotency_key: str,
    source: str = Source.SYSTEM,
) -> Reservation:
    """Give the units back. Releasing a released or expired reservation changes nothing;
    releasing a committed one is refused (return the goods instead). A reservation past its
    TTL is expired already (reads say so): releasing it expires it, as the sweeper would."""
    reservation = _get(merchant, reservation_id)
    replay = _claim_or_replay(merchant, idempotency_key, "reservation.release", reservation.pk)
    if replay is not None:
        return replay
    ctx = movement_context(merchant, actor, source, idempotency_key)
    if not _transition(merchant, reservation.pk, to=Status.RELEASED, now=ctx.at, unexpired=True):
        reservation_expire(reservation_id=reservation.pk, now=ctx.at)  # no-op unless due
        reservation.refresh_from_db()
        if reservation.status == Status.COMMITTED:
            raise InvalidState(
                f"Reservation {reservation.pk} is committed (sold); it cannot be released. "
                "Record a return for goods that come back.",
                status=reservation.status,
            )
        reservation.replayed = False
        return reservation  # released or expired already: nothing to do
    _close_lines(reservation.pk, Reason.RELEASE, ctx, commit=False)
    return _replayed_state(reservation, Status.RELEASED, ctx.at)


@transaction.atomic
def reservation_extend(
    *,
    merchant: Merchant,
    reservation_id: uuid.UUID | str,
    ttl_seconds: int,
    actor: Actor,
    idempotency_key: str,
) -> Reservation:
    """Push the expiry to now + ttl_seconds. Only an active, unexpired reservation extends."""
    ttl = ttl_seconds_checked(ttl_seconds)
    reservation = _get(merchant, reservation_id)
    previous = idempotency.claim(
        merchant_id=merchant.pk,
        key=idempotency.validate_key(idempotency_key),
        operation="reservation.extend",
        request={"reservation": str(reservation.pk), "ttl": ttl},
        result={"reservation_id": str(reservation.pk)},
    )
    if previous is not None:
        return _replayed(merchant, str(reservation.pk))
    now = clock.now()
    updated = Reservation.objects.filter(
        pk=reservation.pk, status=Status.ACTIVE, expires_at__gt=now
    ).update(expires_at=now + timedelta(seconds=ttl))
    reservation.refresh_from_db()
    if not updated:
        status = "expired" if reservation.status == Status.ACTIVE else reservation.status
        raise InvalidState(
            f"Reservation {reservation.pk} is {status} and cannot be extended.", status=status
        )
    reservation.replayed = False
    return reservation


def _replayed_state(reservation: Reservation, status: str, at: datetime) -> Reservation:
    reservation.status = status
    reservation.closed_at = at
    reservation.replayed = False
    return reservation


@transaction.atomic
def reservation_expire(*, reservation_id: uuid.UUID | str, now: datetime | None = None) -> bool:
    """Release one reservation whose TTL has passed. True when this call expired it; safe to
    call twice or from two workers at once (only one wins the conditional update)."""
    now = now or clock.now()
    reservation = (
        Reservation.objects.filter(pk=reservation_id).only("merchant_id", "order_ref").first()
    )
    if reservation is None:
        return False
    expired = (
        Reservation.objects.filter(
            pk=reservation_id, status=Status.ACTIVE, expires_at__lte=now
        ).update(status=Status.EXPIRED, closed_at=now)
        == 1
    )
    if not expired:
        return False
    ctx = MovementContext(
        merchant_id=reservation.merchant_id,
        actor_id=None,
        source=Source.SYSTEM,
        idempotency_key=f"expire:{reservation_id}",
        at=now,
    )
    _close_lines(reservation.pk, Reason.EXPIRE, ctx, commit=False)
    outbox_append(
        merchant_id=reservation.merchant_id,
        topic=RESERVATION_EXPIRED,
        payload={"reservation_id": str(reservation.pk), "order_ref": reservation.order_ref},
        at=now,
    )
    return True


def reservation_expire_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Expire reservations past their TTL, each in its own short transaction. Returns how many
    this call expired (others may have been expired concurrently by another worker)."""
    now = now or clock.now()
    due = list(
        Reservation.objects.filter(status=Status.ACTIVE, expires_at__lte=now)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(reservation_expire(reservation_id=pk, now=now) for pk in due)
