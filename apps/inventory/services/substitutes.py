"""Reservations whose lines allow substitutes: when a SKU is short, other products of its
substitution group (apps.catalog.models.SubstitutionGroup) make up the rest, in whole units
(apps.inventory.substitution), all or nothing.

A line takes what its own SKU has first (at its location, or over the active locations by
priority or distance), then substitutes in the group's priority order, at the same location
for a located line. The plan is read without locks; the reservation is then one guarded
movement per level, locked in primary-key order (`apply_movements`), so a substitution never
oversells either SKU: a level taken meanwhile refuses, the whole reservation rolls back, and
`reservation_create` plans again from fresh figures. The lines say what was taken for what
(`substitute_for`, `substitute_for_quantity`), so do the ledger notes and a
`reservation.substituted` event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from apps.catalog.models import Product, SubstitutionMember
from apps.core.errors import InvalidRequest
from apps.inventory import substitution
from apps.inventory.engine.changes import Movement, MovementContext
from apps.inventory.engine.locks import levels_by_pair
from apps.inventory.engine.movements import apply_movements
from apps.inventory.exceptions import InsufficientStock, Shortage
from apps.inventory.models import LedgerEntry, Reservation, ReservationLine, StockLevel
from apps.inventory.outbox import RESERVATION_SUBSTITUTED, outbox_append
from apps.inventory.services.allocation import serving_order
from apps.locations.models import Location

Key = tuple[int, int | None]  # (product id, location id or None)


def substitutable_requests(lines: Iterable) -> frozenset[Key]:
    """The (product, location) requests whose lines allow substitutes. Lines for the same SKU
    and location merge, so they must agree (400 otherwise)."""
    flags: dict[Key, bool] = {}
    for line in lines:
        key = (line.product.pk, line.location.pk if line.location else None)
        allowed = bool(getattr(line, "substitutes", False))
        if flags.setdefault(key, allowed) != allowed:
            where = line.location.code if line.location else "any location"
            raise InvalidRequest(
                f"{line.product.sku} at {where} appears twice, once allowing substitutes and "
                "once not: say it once.",
                field="lines",
            )
    return frozenset(key for key, allowed in flags.items() if allowed)


@dataclass
class _Planned:
    """Units of one product to reserve at one level, and the product (and units of it) they
    stand in for when they are a substitute."""

    product: Product
    location: Location
    quantity: int = 0
    substitute_for: Product | None = None
    stands_for: int = 0


class _Stock:
    """What each (product, location) can give now, read once without locks and drawn down
    as the plan takes from it."""

    def __init__(self, merchant_id: int, product_ids: Iterable[int], near) -> None:
        levels = (
            StockLevel.objects.with_buckets()
            .select_related("location")
            .filter(
                merchant_id=merchant_id,
                product_id__in=set(product_ids),
                location__status=Location.Status.ACTIVE,
            )
        )
        self.left: dict[tuple[int, int], int] = {}
        self.level_ids: dict[tuple[int, int], int] = {}
        places: dict[int, Location] = {}
        for level in levels:
            self.left[(level.product_id, level.location_id)] = level.available
            self.level_ids[(level.product_id, level.location_id)] = level.pk
            places[level.location_id] = level.location
        self.order = serving_order(list(places.values()), near)

    def at(self, product_id: int, location_id: int) -> int:
        return self.left.get((product_id, location_id), 0)

    def anywhere(self, product_id: int) -> int:
        return sum(self.at(product_id, place.pk) for place in self.order)

    def take(self, product_id: int, location_id: int, units: int) -> None:
        self.left[(product_id, location_id)] = self.at(product_id, location_id) - units


def _members(asked: Iterable[int]) -> dict[int, tuple[int, list[tuple[Product, int]]]]:
    """Per asked product id that is in a substitution group: (the base units one holds, [(an
    active other product of the group, its units)] by priority). Two queries."""
    own = {
        product_id: (group_id, units)
        for product_id, group_id, units in SubstitutionMember.objects.filter(
            product_id__in=list(asked)
        ).values_list("product_id", "group_id", "units")
    }
    by_group: dict[int, list[SubstitutionMember]] = defaultdict(list)
    for member in (
        SubstitutionMember.objects.filter(
            group_id__in={group_id for group_id, _ in own.values()}, product__is_active=True
        )
        .select_related("product")
        .order_by("priority", "product__sku")
    ):
        by_group[member.group_id].append(member)
    return {
        product_id: (
            units,
            [(m.product, m.units) for m in by_group[group_id] if m.product_id != product_id],
        )
        for product_id, (group_id, units) in own.items()
    }


def hold_with_substitutes(
    reservation: Reservation,
    requests: dict[tuple[Product, Location | None], int],
    near: tuple[float, float] | None,
    ctx: MovementContext,
    *,
    substitutable: frozenset[Key],
) -> list[ReservationLine]:
    """Plan every request (own units first, then substitutes for the lines that allow them),
    write the reservation lines, and reserve with one guarded movement per level. Raises
    InsufficientStock, having reserved nothing, when a line cannot be served in full."""
    members = _members(
        p.pk for p, loc in requests if (p.pk, loc.pk if loc else None) in substitutable
    )
    stock = _Stock(
        reservation.merchant_id,
        [p.pk for p, _ in requests] + [m.pk for _, others in members.values() for m, _ in others],
        near,
    )
    plan: dict[tuple[int, int, int | None], _Planned] = {}

    def add(product: Product, location: Location, units: int, asked: Product | None, stands: int):
        key = (product.pk, location.pk, asked.pk if asked else None)
        planned = plan.setdefault(key, _Planned(product, location, substitute_for=asked))
        planned.quantity += units
        planned.stands_for += stands
        stock.take(product.pk, location.pk, units)

    # Every line's own SKU first, so that a SKU asked for directly is never taken from it as
    # another line's substitute.
    missing: dict[tuple[Product, Location | None], tuple[int, int]] = {}
    for (product, location), quantity in requests.items():
        allowed = (product.pk, location.pk if location else None) in substitutable
        if location is not None:
            own = min(quantity, stock.at(product.pk, location.pk)) if allowed else quantity
            if own:
                add(product, location, own, None, 0)
            took = own
        else:
            took = 0
            for place in stock.order:
                units = min(quantity - took, stock.at(product.pk, place.pk))
                if units > 0:
                    add(product, place, units, None, 0)
                    took += units
        if took < quantity:
            missing[(product, location)] = (quantity, took)
    shortages = []
    for (product, location), (quantity, took) in missing.items():
        allowed = (product.pk, location.pk if location else None) in substitutable
        units, others = members.get(product.pk, (1, []))
        options = [
            substitution.Option(
                other,
                other_units,
                stock.at(other.pk, location.pk) if location else stock.anywhere(other.pk),
            )
            for other, other_units in (others if allowed else [])
        ]
        taken = substitution.cover(quantity - took, units, options)
        if taken is None:
            shortages.append(
                Shortage(
                    sku=product.sku,
                    location=location.code if location else None,
                    requested=quantity,
                    available=took,
                    with_substitutes=sum(substitution.stands_for(units, o) for o in options)
                    if allowed
                    else None,
                )
            )
            continue
        for part in taken:
            if location is not None:
                add(part.key, location, part.quantity, product, part.stands_for)
            else:
                _spread(part, stock, product, add)
    if shortages:
        raise InsufficientStock(shortages)
    return _reserve(reservation, plan, stock, ctx)


def _spread(part: substitution.Taken, stock: _Stock, asked: Product, add) -> None:
    """Take an unlocated line's substitute over the locations in serving order; what it stands
    for is shared out in whole units, in proportion (rounded up, so that every line stands for
    something while there is something left to stand for)."""
    took = stood = 0
    for place in stock.order:
        units = min(part.quantity - took, stock.at(part.key.pk, place.pk))
        if units <= 0:
            continue
        took += units
        stands = -(-part.stands_for * took // part.quantity) - stood
        stood += stands
        add(part.key, place, units, asked, stands)
        if took == part.quantity:
            return


def _reserve(
    reservation: Reservation,
    plan: dict[tuple[int, int, int | None], _Planned],
    stock: _Stock,
    ctx: MovementContext,
) -> list[ReservationLine]:
    """The lines of the plan, then one guarded movement per level (several lines may share a
    level: a SKU asked for and the same SKU standing in for another)."""
    level_ids = dict(stock.level_ids)
    unknown = [(p, loc) for p, loc, _ in plan if (p, loc) not in level_ids]
    level_ids.update(levels_by_pair(unknown))  # a located line at a level with nothing free
    missing = [planned for key, planned in plan.items() if key[:2] not in level_ids]
    if missing:
        raise InsufficientStock(
            [
                Shortage(
                    sku=p.product.sku, location=p.location.code, requested=p.quantity, available=0
                )
                for p in missing
            ]
        )
    lines = ReservationLine.objects.bulk_create(
        [
            ReservationLine(
                reservation=reservation,
                stock_level_id=level_ids[key[:2]],
                product=planned.product,
                location=planned.location,
                quantity=planned.quantity,
                substitute_for=planned.substitute_for,
                substitute_for_quantity=planned.stands_for if planned.substitute_for else None,
            )
            for key, planned in sorted(plan.items(), key=lambda item: level_ids[item[0][:2]])
        ]
    )
    per_level: dict[int, int] = defaultdict(int)
    notes: dict[int, list[str]] = defaultdict(list)
    for line in lines:
        per_level[line.stock_level_id] += line.quantity
        if line.substitute_for is not None:
            notes[line.stock_level_id].append(
                f"{line.quantity} standing in for {line.substitute_for_quantity} "
                f"{line.substitute_for.sku}"
            )
    reference = f"reservation:{reservation.pk}"
    apply_movements(
        [
            Movement(
                stock_level_id=level_id,
                reason=LedgerEntry.Reason.RESERVE,
                requested=quantity,
                reserved=quantity,
                respect_safety_stock=True,
                reference=reference,
                note=("Substitute: " + "; ".join(notes[level_id]))[:500] if notes[level_id] else "",
            )
            for level_id, quantity in sorted(per_level.items())
        ],
        ctx,
    )
    substituted = [line for line in lines if line.substitute_for is not None]
    if substituted:
        outbox_append(
            merchant_id=reservation.merchant_id,
            topic=RESERVATION_SUBSTITUTED,
            payload={
                "reservation_id": str(reservation.pk),
                "order_ref": reservation.order_ref,
                "lines": [
                    {
                        "sku": line.product.sku,
                        "location": line.location.code,
                        "quantity": line.quantity,
                        "substitute_for": {
                            "sku": line.substitute_for.sku,
                            "quantity": line.substitute_for_quantity,
                        },
                    }
                    for line in substituted
                ],
            },
            at=ctx.at,
        )
    return lines
