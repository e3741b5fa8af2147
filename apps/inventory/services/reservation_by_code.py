"""A one-line reservation at a location, named by SKU and location code, in one round trip.

The busiest write there is (an order reserving one SKU at one location) reads straight down:
one statement, in autocommit, resolves the codes, reads the idempotency key, guards and updates
the level, writes the ledger, outbox, reservation and line, and claims the key together with
the response the caller will give, so a retry is answered exactly as the first call was even if
the connection dies right after the commit. Nothing runs in Python while the level row is
locked: the lock lives from the statement's update to its own commit.

Everything else (a key seen before, codes that do not resolve, an inactive product or location,
a level with buckets, a race lost to a concurrent reservation, SQLite) is left to the
transactional path (`reservation_create`), which explains it exactly; this module only ever
answers the cases it can answer in that one statement: held, or refused for want of stock.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from apps.catalog.models import Product
from apps.core import idempotency
from apps.core.combining import Combiner
from apps.inventory.engine.changes import CodedReservation
from apps.inventory.engine.reservations import ByCode, reserve_by_code
from apps.inventory.exceptions import InsufficientStock, Shortage
from apps.inventory.models import Reservation, ReservationLine, Source
from apps.inventory.services.lines import check_quantity
from apps.inventory.services.reservations import OPERATION, ttl_seconds_checked
from apps.inventory.services.stock import Actor, movement_context
from apps.locations.models import Location
from apps.merchants.models import Merchant

_LINES_MARK = "@@lines@@"


@dataclass(frozen=True)
class FirstResponse:
    """What the caller answers for the new reservation, kept with the key's claim for
    replays: its own fingerprint of the request, the status and the body (JSON text)."""

    request: str
    status: int
    body: bytes | str


def reservation_create_by_code(
    *,
    merchant: Merchant,
    sku: str,
    location_code: str,
    quantity: int,
    actor: Actor,
    idempotency_key: str,
    ttl_seconds: int | None = None,
    order_ref: str = "",
    source: str = Source.SYSTEM,
    respond: Callable[[Reservation], FirstResponse] | None = None,
) -> Reservation | None:
    """Reserve `quantity` of `sku` at `location_code` in one statement (PostgreSQL). Returns
    the new active reservation (its line, product and location loaded; `replayed` False), or
    None when this call must take the transactional path (`reservation_create`), having
    written nothing. Raises InsufficientStock, with the level's figures as the statement saw
    them, when the units are not there. `respond(reservation)` gives the response stored with
    the key, for replays."""
    if connection.vendor != "postgresql":
        return None
    key = idempotency.validate_key(idempotency_key)
    check_quantity(quantity)
    ttl = ttl_seconds_checked(ttl_seconds)
    ctx = movement_context(merchant, actor, source, key)
    reservation = Reservation(
        id=uuid.uuid4(),
        merchant=merchant,
        status=Reservation.Status.ACTIVE,
        order_ref=order_ref[:200],
        expires_at=ctx.at + timedelta(seconds=ttl),
        source=source,
        created_by_id=ctx.actor_id,
        created_at=ctx.at,
    )
    # Stand-ins until the statement says which rows the codes name (the response needs only
    # the codes, which it echoes).
    product, location = Product(merchant=merchant, sku=sku), Location(code=location_code)
    line = ReservationLine(
        reservation=reservation, product=product, location=location, quantity=quantity
    )
    reservation._prefetched_objects_cache = {"lines": [line]}
    first = respond(reservation) if respond is not None else None
    prefix, suffix = _fingerprint_around_lines(ttl_seconds, order_ref)
    result = {"reservation_id": str(reservation.pk)}
    if first is not None:
        result.update(request=first.request, headers={})
    request = CodedReservation(
        idempotency_key=key,
        quantity=quantity,
        reservation_id=reservation.pk,
        order_ref=reservation.order_ref,
        expires_at=reservation.expires_at,
        at=ctx.at,
        actor_id=ctx.actor_id,
        api_key_id=ctx.api_key_id,
        api_key_name=ctx.api_key_name,
        source=source,
        result=json.dumps(result),
        response_status=first.status if first is not None else None,
        response_body=first.body if first is not None else None,
        fingerprint_prefix=prefix,
        fingerprint_suffix=suffix,
    )
    batch_key = (merchant.pk, sku, location_code)
    if connection.in_atomic_block:
        # Part of the caller's transaction: never in a batch that other callers commit.
        found = _run_batch(batch_key, [request])[0]
    else:
        found = _orders.submit(batch_key, request)
    if found is None or found.prior_fingerprint is not None:
        return None  # the key was used before, or is being used right now
    if found.line_id is None:
        _refuse(found, sku=sku, location_code=location_code, quantity=quantity)
        return None
    product.pk, location.pk = found.product_id, found.location_id
    line.pk, line.stock_level_id = found.line_id, found.stock_level_id
    for instance in (reservation, line, product, location):
        instance._state.adding = False
        instance._state.db = connection.alias
    reservation.replayed = False
    return reservation


def _run_batch(
    batch_key: tuple[int, str, str], requests: Sequence[CodedReservation]
) -> list[ByCode | None]:
    """One statement for orders of one SKU at one location that arrived together. A key
    claimed meanwhile by another call sends every order of the batch to the general path."""
    merchant_id, sku, location_code = batch_key
    keys = [request.idempotency_key for request in requests]
    if len(set(keys)) != len(keys):  # the same order twice at once: each on its own
        return [_run_batch(batch_key, [request])[0] for request in requests]
    now = timezone.now()
    found = reserve_by_code(
        merchant_id=merchant_id,
        sku=sku,
        location_code=location_code,
        requests=requests,
        operation=OPERATION,
        retained_since=idempotency.retained_since(now),
        at=now,
    )
    return list(found) if found is not None else [None] * len(requests)


# Orders of the same SKU at the same location that arrive while one is being reserved are
# reserved together: one locked update, one commit (see apps.core.combining).
_orders: Combiner[CodedReservation, ByCode | None] = Combiner(_run_batch, max_batch=64)


def _refuse(found: ByCode, *, sku: str, location_code: str, quantity: int) -> None:
    """Raise InsufficientStock when the statement's snapshot explains why nothing was held
    (the level has fewer units than asked, or no level exists: 0). Anything else (unknown
    codes, an inactive product or location, buckets, units taken by a concurrent reservation
    since the snapshot) returns, for the transactional path to explain or retry."""
    if found.product_id is None or found.location_id is None:
        return
    if not found.product_active or found.location_status != Location.Status.ACTIVE:
        return
    if found.bucket_count:
        return
    if found.available < quantity:
        raise InsufficientStock(
            [
                Shortage(
                    sku=sku, location=location_code, requested=quantity, available=found.available
                )
            ]
        )


def _fingerprint_around_lines(ttl_seconds: int | None, order_ref: str) -> tuple[str, str]:
    """The canonical text `idempotency.fingerprint` hashes for this reservation, around its
    one line `[product_id, location_id, quantity]`, which only the statement knows: it hashes
    prefix + "<product_id>, <location_id>, <quantity>" + suffix (PostgreSQL's sha256), the very
    fingerprint `reservation_create` computes for the same request."""
    canonical = _canonical(_LINES_MARK, ttl_seconds, order_ref)
    before, after = canonical.split(json.dumps(_LINES_MARK))
    return before + "[[", "]]" + after


def _canonical(lines: Any, ttl_seconds: int | None, order_ref: str) -> str:
    return json.dumps(
        {
            "operation": OPERATION,
            "request": {"lines": lines, "ttl": ttl_seconds, "order_ref": order_ref, "near": None},
        },
        sort_keys=True,
        default=str,
    )


def by_code_fingerprint(
    product_id: int, location_id: int, quantity: int, ttl_seconds: int | None, order_ref: str
) -> str:
    """The fingerprint the statement computes (for tests: it equals `reservation_create`'s)."""
    prefix, suffix = _fingerprint_around_lines(ttl_seconds, order_ref)
    text = f"{prefix}{product_id}, {location_id}, {quantity}{suffix}"
    return hashlib.sha256(text.encode()).hexdigest()
