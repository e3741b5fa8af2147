"""Returns and cancellations after commit: the units of a committed (sold) reservation come
back, to on hand (`restock`) or to damaged, tied to the reservation and its order.

Never more of a SKU than the reservation committed, less what earlier returns took back. The
reservation row is locked first (before any stock level, the global order: a committed
reservation's row is otherwise never written), so two returns of one reservation queue and
the second sees what the first took back.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.catalog.models import Product
from apps.core import idempotency
from apps.core.errors import InvalidRequest, InvalidState, ObjectNotFound
from apps.inventory.engine.changes import Movement
from apps.inventory.engine.locks import ensure_stock_levels
from apps.inventory.engine.movements import apply_movements
from apps.inventory.exceptions import ReturnExceedsCommitted, Unreturnable
from apps.inventory.models import (
    LedgerEntry,
    Reservation,
    ReservationLine,
    ReservationReturn,
    ReservationReturnLine,
    Source,
)
from apps.inventory.outbox import RESERVATION_RETURNED, outbox_append
from apps.inventory.selectors import Returnable, reservation_returnable
from apps.inventory.services.lines import MAX_LINES, check_owned, check_quantity
from apps.inventory.services.stock import Actor, acting_user, movement_context
from apps.locations.models import Location
from apps.merchants.models import Merchant

Disposition = ReservationReturn.Disposition
OPERATION = "reservation.return"


@dataclass(frozen=True)
class ReturnLineRequest:
    """Units of one SKU coming back. `location`: where they come back to; None: where the
    reservation sold them (when that is one location)."""

    product: Product
    quantity: int
    location: Location | None = None


def _reservation(merchant: Merchant, reservation_id: uuid.UUID | str) -> Reservation:
    try:
        return Reservation.objects.get(pk=reservation_id, merchant=merchant)
    except (Reservation.DoesNotExist, ValueError, TypeError, ValidationError):
        raise ObjectNotFound(
            f"Reservation {reservation_id} not found.", reservation=str(reservation_id)
        ) from None


def _check_lines(
    merchant: Merchant, lines: Sequence[ReturnLineRequest]
) -> dict[tuple[Product, Location | None], int]:
    if not lines:
        raise InvalidRequest(
            "At least one line is required (leave `lines` out to cancel the whole order).",
            field="lines",
        )
    if len(lines) > MAX_LINES:
        raise InvalidRequest(f"At most {MAX_LINES:,} lines per return.", field="lines")
    merged: dict[tuple[int, int | None], int] = defaultdict(int)
    objects: dict[tuple[int, int | None], tuple[Product, Location | None]] = {}
    for line in lines:
        check_owned(merchant, product=line.product, location=line.location)
        check_quantity(line.quantity)
        key = (line.product.pk, line.location.pk if line.location else None)
        merged[key] += line.quantity
        objects[key] = (line.product, line.location)
    for quantity in merged.values():
        check_quantity(quantity)
    return {objects[key]: quantity for key, quantity in merged.items()}


def _sold_at(reservation: Reservation) -> dict[int, list[tuple[int, int]]]:
    """Per product id: [(location id, units sold there)], in line order."""
    sold: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for product_id, location_id, quantity in (
        ReservationLine.objects.filter(reservation=reservation)
        .order_by("id")
        .values_list("product_id", "location_id", "quantity")
    ):
        sold[product_id][location_id] += quantity
    return {product_id: list(places.items()) for product_id, places in sold.items()}


def _unreturned_at(
    reservation: Reservation, left: dict[int, Returnable], sold_at: dict[int, list[tuple[int, int]]]
) -> dict[tuple[int, int], int]:
    """What a cancellation takes back: per product, the units not yet returned, to where they
    were sold; a location first keeps what came back there, then what is left of the
    product's returns elsewhere is counted off in line order."""
    back_at: dict[tuple[int, int], int] = defaultdict(int)
    for product_id, location_id, quantity in ReservationReturnLine.objects.filter(
        reservation_return__reservation=reservation
    ).values_list("product_id", "location_id", "quantity"):
        back_at[(product_id, location_id)] += quantity
    plan: dict[tuple[int, int], int] = {}
    for product_id, places in sold_at.items():
        remaining = left[product_id].returnable
        for location_id, units in places:
            take = min(max(units - back_at[(product_id, location_id)], 0), remaining)
            if take > 0:
                plan[(product_id, location_id)] = take
                remaining -= take
    return plan


def _planned(
    reservation: Reservation,
    requests: dict[tuple[Product, Location | None], int] | None,
    left: dict[int, Returnable],
    sold_at: dict[int, list[tuple[int, int]]],
) -> dict[tuple[int, int], int]:
    """(product id, location id) -> units coming back. A cancellation (`requests` None) takes
    back every unit not yet returned, to where it was sold."""
    if requests is None:
        plan = _unreturned_at(reservation, left, sold_at)
        if not plan:
            raise InvalidState(
                f"Every unit of reservation {reservation.pk} was returned already: nothing is "
                "left to cancel.",
                status="returned",
            )
        return plan
    plan = defaultdict(int)
    for (product, location), quantity in requests.items():
        if product.pk not in sold_at:
            raise InvalidRequest(
                f"{product.sku} was not sold in reservation {reservation.pk}.", field="lines"
            )
        if location is None:
            places = [loc for loc, _ in sold_at[product.pk]]
            if len(places) != 1:
                codes = ", ".join(
                    Location.objects.filter(pk__in=places)
                    .order_by("code")
                    .values_list("code", flat=True)
                )
                raise InvalidRequest(
                    f"{product.sku} was sold from several locations ({codes}): name the "
                    "location the goods came back to.",
                    field="lines",
                )
            location_id = places[0]
        else:
            location_id = location.pk
        plan[(product.pk, location_id)] += quantity
    asked: dict[int, int] = defaultdict(int)
    for (product_id, _), quantity in plan.items():
        asked[product_id] += quantity
    over = [
        Unreturnable(
            sku=left[product_id].sku,
            requested=units,
            committed=left[product_id].committed,
            returned=left[product_id].returned,
        )
        for product_id, units in sorted(asked.items())
        if units > left[product_id].returnable
    ]
    if over:
        raise ReturnExceedsCommitted(reservation=str(reservation.pk), lines=over)
    return plan


@transaction.atomic
def reservation_return(
    *,
    merchant: Merchant,
    reservation_id: uuid.UUID | str,
    lines: Sequence[ReturnLineRequest] | None,
    disposition: str,
    actor: Actor,
    idempotency_key: str,
    reason: str = "",
    source: str = Source.SYSTEM,
) -> ReservationReturn:
    """Take back units of a committed reservation: `lines`, or with `lines` None every unit
    not yet returned (the order cancelled after commit). `restock` puts them back on hand,
    `damaged` sets them aside. One `return` ledger row per level, referencing the reservation
    (`reservation:<id>`) with the order in its note, and a `reservation.returned` event.

    Refused, changing nothing: a reservation that is not committed (409 invalid_state), a SKU
    it did not sell (400), more units of a SKU than it sold less earlier returns (409
    return_exceeds_committed, with the figures per SKU). Returns the return with its lines
    (`replayed` True when the idempotency key was seen before)."""
    key = idempotency.validate_key(idempotency_key)
    if disposition not in Disposition.values:
        raise InvalidRequest(
            f"disposition must be one of {', '.join(Disposition.values)}.", field="disposition"
        )
    reason = (reason or "").strip()[:500]
    requests = None if lines is None else _check_lines(merchant, lines)
    reservation = _reservation(merchant, reservation_id)
    return_id = uuid.uuid4()
    previous = idempotency.claim(
        merchant_id=merchant.pk,
        key=key,
        operation=OPERATION,
        request={
            "reservation": str(reservation.pk),
            "lines": None
            if requests is None
            else sorted([p.pk, loc.pk if loc else None, q] for (p, loc), q in requests.items()),
            "disposition": disposition,
            "reason": reason,
        },
        result={"return_id": str(return_id)},
    )
    if previous is not None:
        return _replayed(previous.result["return_id"])
    reservation = Reservation.objects.select_for_update().get(pk=reservation.pk)
    if reservation.status != Reservation.Status.COMMITTED:
        status = reservation.current_status
        hint = "release it instead" if status == Reservation.Status.ACTIVE else "nothing was sold"
        raise InvalidState(
            f"Reservation {reservation.pk} is {status}: only a committed (sold) reservation "
            f"takes returns; {hint}.",
            status=status,
        )
    plan = _planned(
        reservation,
        requests,
        reservation_returnable(reservation=reservation),
        _sold_at(reservation),
    )
    level_ids = ensure_stock_levels(merchant.pk, plan)
    ctx = movement_context(merchant, actor, source, key)
    record = ReservationReturn.objects.create(
        id=return_id,
        merchant=merchant,
        reservation=reservation,
        disposition=disposition,
        cancellation=requests is None,
        reason=reason,
        source=source,
        created_by=acting_user(actor),
        created_at=ctx.at,
    )
    returned = ReservationReturnLine.objects.bulk_create(
        [
            ReservationReturnLine(
                reservation_return=record,
                stock_level_id=level_ids[pair],
                product_id=pair[0],
                location_id=pair[1],
                quantity=quantity,
            )
            for pair, quantity in sorted(plan.items())
        ]
    )
    what = "cancelled after commit" if requests is None else "returned"
    note = f"Order {reservation.order_ref or '-'} {what} ({disposition})"
    restock = disposition == Disposition.RESTOCK
    apply_movements(
        [
            Movement(
                stock_level_id=line.stock_level_id,
                reason=LedgerEntry.Reason.RETURN,
                requested=line.quantity,
                on_hand=line.quantity if restock else 0,
                damaged=0 if restock else line.quantity,
                reference=f"reservation:{reservation.pk}",
                note=f"{note}: {reason}"[:500] if reason else note,
            )
            for line in returned
        ],
        ctx,
    )
    fresh = _replayed(str(record.pk))
    outbox_append(
        merchant_id=merchant.pk,
        topic=RESERVATION_RETURNED,
        payload=return_document(fresh),
        at=ctx.at,
    )
    fresh.replayed = False
    return fresh


def _replayed(return_id: str) -> ReservationReturn:
    record = (
        ReservationReturn.objects.select_related("reservation")
        .prefetch_related("lines__product", "lines__location")
        .get(pk=return_id)
    )
    record.replayed = True
    return record


def return_document(record: ReservationReturn) -> dict:
    """The event payload (and the API's answer) for one return."""
    return {
        "return_id": str(record.pk),
        "reservation_id": str(record.reservation_id),
        "order_ref": record.reservation.order_ref,
        "disposition": record.disposition,
        "cancellation": record.cancellation,
        "reason": record.reason,
        "created_at": record.created_at.isoformat(),
        "lines": [
            {"sku": line.product.sku, "location": line.location.code, "quantity": line.quantity}
            for line in record.lines.all()
        ],
    }
