"""Transfers between two locations of one merchant:
draft -> in_transit (leaves the source's on_hand, counted in the destination's in_transit)
-> received (arrives in the destination's on_hand); a draft may be cancelled."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.catalog.models import Product
from apps.core import idempotency
from apps.core.errors import InvalidRequest, InvalidState, ObjectNotFound
from apps.inventory.engine.changes import Movement, MovementContext
from apps.inventory.engine.locks import ensure_stock_levels, levels_by_pair
from apps.inventory.engine.movements import apply_movements
from apps.inventory.exceptions import InsufficientStock, Shortage
from apps.inventory.models import LedgerEntry, Source, Transfer, TransferLine
from apps.inventory.outbox import TRANSFER_RECEIVED, outbox_append
from apps.inventory.services.lines import MAX_LINES, check_owned, check_quantity
from apps.inventory.services.stock import Actor, acting_user, movement_context
from apps.locations.models import Location
from apps.merchants.models import Merchant

Reason = LedgerEntry.Reason
Status = Transfer.Status


@dataclass(frozen=True)
class TransferLineRequest:
    product: Product
    quantity: int


@dataclass(frozen=True)
class Shipping:
    """How a transfer travels: the carrier, its tracking number and what the carriage cost
    (in the merchant's currency). Empty fields are not recorded (or, when shipping, kept)."""

    carrier: str = ""
    tracking_number: str = ""
    cost: Decimal | None = None

    def checked(self) -> Shipping:
        if len(self.carrier) > 100:
            raise InvalidRequest("carrier: at most 100 characters.", field="carrier")
        if len(self.tracking_number) > 100:
            raise InvalidRequest(
                "tracking_number: at most 100 characters.", field="tracking_number"
            )
        if self.cost is not None and not Decimal("0") <= self.cost < Decimal("1e10"):
            raise InvalidRequest(
                "shipping_cost must be from 0 to 9,999,999,999.99.", field="shipping_cost"
            )
        return self

    def fields(self) -> dict[str, object]:
        """The transfer's columns this sets (the empty ones left out)."""
        given = {"carrier": self.carrier, "tracking_number": self.tracking_number}
        values: dict[str, object] = {name: value for name, value in given.items() if value}
        if self.cost is not None:
            values["shipping_cost"] = self.cost
        return values

    def fingerprint(self) -> list[str]:
        return [self.carrier, self.tracking_number, "" if self.cost is None else str(self.cost)]


@transaction.atomic
def transfer_create(
    *,
    merchant: Merchant,
    source_location: Location,
    destination_location: Location,
    lines: Sequence[TransferLineRequest],
    actor: Actor,
    idempotency_key: str,
    reference: str = "",
    note: str = "",
    shipping: Shipping | None = None,
) -> Transfer:
    """Create a draft transfer. No stock moves until it ships."""
    key = idempotency.validate_key(idempotency_key)
    merged = _checked_lines(merchant, source_location, destination_location, lines)
    shipping = (shipping or Shipping()).checked()
    transfer_id = uuid.uuid4()
    request = {
        "source": source_location.pk,
        "destination": destination_location.pk,
        "lines": sorted(merged.items()),
        "reference": reference,
        "note": note,
    }
    if shipping != Shipping():
        request["shipping"] = shipping.fingerprint()
    previous = idempotency.claim(
        merchant_id=merchant.pk,
        key=key,
        operation="transfer.create",
        request=request,
        result={"transfer_id": str(transfer_id)},
    )
    if previous is not None:
        return _get(merchant, previous.result["transfer_id"])
    ctx = movement_context(merchant, actor, Source.SYSTEM, key)
    return _insert(
        merchant, transfer_id, source_location, destination_location, merged, actor, ctx,
        reference=reference, note=note, shipping=shipping,
    )  # fmt: skip


def _checked_lines(
    merchant: Merchant,
    source_location: Location,
    destination_location: Location,
    lines: Sequence[TransferLineRequest],
) -> dict[int, int]:
    """The lines' quantities by product id (a product named twice is summed), or
    InvalidRequest for a transfer that can never be made."""
    check_owned(merchant, location=source_location)
    check_owned(merchant, location=destination_location)
    if source_location.pk == destination_location.pk:
        raise InvalidRequest(
            "Source and destination must be different locations.", field="destination"
        )
    if not lines:
        raise InvalidRequest("At least one line is required.", field="lines")
    if len(lines) > MAX_LINES:
        raise InvalidRequest(f"At most {MAX_LINES:,} lines per transfer.", field="lines")
    merged: dict[int, int] = defaultdict(int)
    for line in lines:
        check_owned(merchant, product=line.product)
        merged[line.product.pk] += check_quantity(line.quantity)
    for quantity in merged.values():
        check_quantity(quantity)
    return dict(merged)


def _insert(
    merchant: Merchant,
    transfer_id: uuid.UUID,
    source_location: Location,
    destination_location: Location,
    merged: dict[int, int],
    actor: Actor,
    ctx: MovementContext,
    *,
    reference: str,
    note: str,
    shipping: Shipping,
) -> Transfer:
    """The draft transfer and its lines."""
    transfer = Transfer.objects.create(
        id=transfer_id,
        merchant=merchant,
        source_location=source_location,
        destination_location=destination_location,
        reference=reference[:200],
        note=note[:500],
        created_by=acting_user(actor),
        created_at=ctx.at,
        **shipping.fields(),
    )
    TransferLine.objects.bulk_create(
        [
            TransferLine(transfer=transfer, product_id=pid, quantity=q)
            for pid, q in sorted(merged.items())
        ]
    )
    return transfer


def _get(merchant: Merchant, transfer_id: uuid.UUID | str) -> Transfer:
    try:
        return Transfer.objects.select_related("source_location", "destination_location").get(
            pk=transfer_id, merchant=merchant
        )
    except (Transfer.DoesNotExist, ValueError, TypeError, ValidationError):
        raise ObjectNotFound(
            f"Transfer {transfer_id} not found.", transfer=str(transfer_id)
        ) from None


def _advance(
    *,
    merchant: Merchant,
    transfer_id: uuid.UUID | str,
    operation: str,
    key: str,
    frm: str,
    to: str,
    stamp: str,
    request: dict[str, object] | None = None,
) -> tuple[Transfer, bool]:
    """Claim the key and move the transfer from `frm` to `to` with one conditional UPDATE.
    Returns (transfer, replayed)."""
    transfer = _get(merchant, transfer_id)
    previous = idempotency.claim(
        merchant_id=merchant.pk,
        key=idempotency.validate_key(key),
        operation=operation,
        request={"transfer": str(transfer.pk), **(request or {})},
        result={"transfer_id": str(transfer.pk)},
    )
    if previous is not None:
        return transfer, True
    _set_status(transfer, frm=frm, to=to)
    return transfer, False


def _set_status(transfer: Transfer, *, frm: str, to: str) -> None:
    """Move the transfer from `frm` to `to` with one conditional UPDATE, or InvalidState."""
    moved = Transfer.objects.filter(pk=transfer.pk, status=frm).update(status=to)
    if not moved:
        transfer.refresh_from_db()
        hints = {
            Status.DRAFT: "ship it first",
            Status.IN_TRANSIT: "it has shipped; receive it at the destination",
            Status.RECEIVED: "it is complete",
            Status.CANCELLED: "it was cancelled",
        }
        raise InvalidState(
            f"Transfer {transfer.reference or transfer.pk} is {transfer.status}: {hints[transfer.status]}.",
            status=transfer.status,
        )
    transfer.status = to


@transaction.atomic
def transfer_ship(
    *, merchant: Merchant, transfer_id: uuid.UUID | str, actor: Actor, idempotency_key: str,
    source: str = Source.SYSTEM, shipping: Shipping | None = None,
) -> Transfer:  # fmt: skip
    """Units leave the source's on_hand (unreserved units only) and are counted in the
    destination's in_transit. All lines or none. `shipping` records the carrier, tracking
    number and cost known once it leaves (fields left empty keep what the draft said)."""
    shipping = (shipping or Shipping()).checked()
    transfer, replayed = _advance(
        merchant=merchant, transfer_id=transfer_id, operation="transfer.ship", key=idempotency_key,
        frm=Status.DRAFT, to=Status.IN_TRANSIT, stamp="shipped_at",
        request={"shipping": shipping.fingerprint()} if shipping != Shipping() else None,
    )  # fmt: skip
    if replayed:
        return transfer
    ctx = movement_context(merchant, actor, source, idempotency_key)
    _ship_lines(merchant, transfer, ctx, shipping)
    return transfer


def _ship_lines(
    merchant: Merchant, transfer: Transfer, ctx: MovementContext, shipping: Shipping
) -> None:
    """The units of every line leave the source's on_hand and are counted in the
    destination's in_transit, all or none (InsufficientStock with the short lines)."""
    lines = list(TransferLine.objects.filter(transfer=transfer).select_related("product"))
    src, dst = transfer.source_location_id, transfer.destination_location_id
    sources = levels_by_pair([(line.product_id, src) for line in lines])
    missing = [line for line in lines if (line.product_id, src) not in sources]
    if missing:
        raise InsufficientStock(
            [
                Shortage(
                    sku=line.product.sku,
                    location=transfer.source_location.code,
                    requested=line.quantity,
                    available=0,
                )
                for line in missing
            ]
        )
    destinations = ensure_stock_levels(merchant.pk, [(line.product_id, dst) for line in lines])
    reference = f"transfer:{transfer.reference or transfer.pk}"
    movements = []
    for line in lines:
        movements.append(
            Movement(
                stock_level_id=sources[(line.product_id, src)],
                reason=Reason.TRANSFER_OUT,
                requested=line.quantity,
                on_hand=-line.quantity,
                reference=reference,
            )
        )
        movements.append(
            Movement(
                stock_level_id=destinations[(line.product_id, dst)],
                reason=Reason.TRANSFER_IN_TRANSIT,
                requested=line.quantity,
                in_transit=line.quantity,
                reference=reference,
            )
        )
    apply_movements(movements, ctx)
    Transfer.objects.filter(pk=transfer.pk).update(shipped_at=ctx.at, **shipping.fields())
    transfer.shipped_at = ctx.at
    for name, value in shipping.fields().items():
        setattr(transfer, name, value)


@transaction.atomic
def transfer_receive(
    *, merchant: Merchant, transfer_id: uuid.UUID | str, actor: Actor, idempotency_key: str,
    source: str = Source.SYSTEM,
) -> Transfer:  # fmt: skip
    """Units in transit arrive in the destination's on_hand."""
    transfer, replayed = _advance(
        merchant=merchant, transfer_id=transfer_id, operation="transfer.receive", key=idempotency_key,
        frm=Status.IN_TRANSIT, to=Status.RECEIVED, stamp="received_at",
    )  # fmt: skip
    if replayed:
        return transfer
    _receive_lines(merchant, transfer, movement_context(merchant, actor, source, idempotency_key))
    return transfer


def _receive_lines(merchant: Merchant, transfer: Transfer, ctx: MovementContext) -> None:
    """The units in transit of every line arrive in the destination's on_hand."""
    lines = list(TransferLine.objects.filter(transfer=transfer))
    dst = transfer.destination_location_id
    destinations = levels_by_pair([(line.product_id, dst) for line in lines])
    reference = f"transfer:{transfer.reference or transfer.pk}"
    apply_movements(
        [
            Movement(
                stock_level_id=destinations[(line.product_id, dst)],
                reason=Reason.TRANSFER_IN,
                requested=line.quantity,
                in_transit=-line.quantity,
                on_hand=line.quantity,
                reference=reference,
            )
            for line in lines
        ],
        ctx,
    )
    Transfer.objects.filter(pk=transfer.pk).update(received_at=ctx.at)
    transfer.received_at = ctx.at
    outbox_append(
        merchant_id=merchant.pk,
        topic=TRANSFER_RECEIVED,
        payload={"transfer_id": str(transfer.pk), "reference": transfer.reference},
        at=ctx.at,
    )


@transaction.atomic
def transfer_cancel(
    *, merchant: Merchant, transfer_id: uuid.UUID | str, actor: Actor, idempotency_key: str
) -> Transfer:
    """Cancel a draft. A shipped transfer cannot be cancelled: receive it instead."""
    transfer, replayed = _advance(
        merchant=merchant, transfer_id=transfer_id, operation="transfer.cancel", key=idempotency_key,
        frm=Status.DRAFT, to=Status.CANCELLED, stamp="cancelled_at",
    )  # fmt: skip
    if not replayed:
        at = movement_context(merchant, actor, Source.SYSTEM, idempotency_key).at
        Transfer.objects.filter(pk=transfer.pk).update(cancelled_at=at)
        transfer.cancelled_at = at
    return transfer


@transaction.atomic
def transfer_move(
    *,
    merchant: Merchant,
    source_location: Location,
    destination_location: Location,
    lines: Sequence[TransferLineRequest],
    actor: Actor,
    idempotency_key: str,
    receive: bool = True,
    source: str = Source.SYSTEM,
    reference: str = "",
    note: str = "",
) -> tuple[Transfer, bool]:
    """Move stock between two locations in one call: create the transfer and ship it and, with
    `receive`, receive it too, in one transaction under one idempotency key (all or nothing,
    with the ledger rows of each step). Without `receive` the units stay in transit at the
    destination until `transfer_receive`. Returns (transfer, replayed)."""
    key = idempotency.validate_key(idempotency_key)
    merged = _checked_lines(merchant, source_location, destination_location, lines)
    transfer_id = uuid.uuid4()
    request = {
        "source": source_location.pk,
        "destination": destination_location.pk,
        "lines": sorted(merged.items()),
        "receive": receive,
        "reference": reference,
        "note": note,
    }
    previous = idempotency.claim(
        merchant_id=merchant.pk,
        key=key,
        operation="transfer.move",
        request=request,
        result={"transfer_id": str(transfer_id)},
    )
    if previous is not None:
        return _get(merchant, previous.result["transfer_id"]), True
    ctx = movement_context(merchant, actor, source, key)
    transfer = _insert(
        merchant, transfer_id, source_location, destination_location, merged, actor, ctx,
        reference=reference, note=note, shipping=Shipping(),
    )  # fmt: skip
    _set_status(transfer, frm=Status.DRAFT, to=Status.IN_TRANSIT)
    _ship_lines(merchant, transfer, ctx, Shipping())
    if receive:
        _set_status(transfer, frm=Status.IN_TRANSIT, to=Status.RECEIVED)
        _receive_lines(merchant, transfer, ctx)
    return transfer, False
