"""Stock reads for interfaces: lists, single levels, availability, the ledger, reservations and
transfers. Every function is scoped to one merchant and loads related rows up front (no N+1)."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import (
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from apps.catalog.models import Product, SubstitutionMember
from apps.core.errors import ObjectNotFound
from apps.inventory import figures, substitution
from apps.inventory.models import (
    LedgerEntry,
    Reservation,
    ReservationLine,
    ReservationReturn,
    ReservationReturnLine,
    StockBucket,
    StockLevel,
    StockLevelRemoval,
    Transfer,
    TransferLine,
    low_stock_q,
)
from apps.locations.models import Location
from apps.merchants.models import Merchant

# Needs the `bucket_free` annotation (`StockLevel.objects.with_buckets()`): free bucket units
# are counted in `reserved` and yet reservable.
AVAILABLE = Greatest(
    F("on_hand") - F("reserved") - F("safety_stock"), Value(0), output_field=IntegerField()
) + F("bucket_free")


def stock_level_list(
    *,
    merchant: Merchant,
    sku: str = "",
    location: str = "",
    low_stock: bool | None = None,
    below_reorder_point: bool | None = None,
    not_sold_since: datetime | None = None,
    received_since: datetime | None = None,
) -> QuerySet[StockLevel]:
    levels = (
        StockLevel.objects.with_buckets()
        .filter(merchant=merchant)
        .select_related("product", "location")
        .annotate(available_units=AVAILABLE)
        .order_by("product__sku", "location__code")
    )
    if sku:
        levels = levels.filter(product__sku=sku)
    if location:
        levels = levels.filter(location__code=location)
    if low_stock is not None:
        levels = levels.filter(low_stock_q()) if low_stock else levels.exclude(low_stock_q())
    if below_reorder_point is not None:
        below = {"available_units__lte": F("reorder_point")}
        levels = levels.filter(**below) if below_reorder_point else levels.exclude(**below)
    if not_sold_since is not None:
        levels = levels.filter(Q(last_sold_at__isnull=True) | Q(last_sold_at__lt=not_sold_since))
    if received_since is not None:
        levels = levels.filter(last_received_at__gte=received_since)
    return levels


def stock_level_get(*, merchant: Merchant, sku: str, location: str) -> StockLevel:
    """The level of (sku, location). A product and location that never held stock together
    read as an empty level at version 0 (what a conditional write would find). 404 when the
    SKU or location is not the merchant's."""
    level = (
        StockLevel.objects.with_buckets()
        .filter(merchant=merchant, product__sku=sku, location__code=location)
        .select_related("product", "location")
        .first()
    )
    if level is not None:
        return level
    product = Product.objects.filter(merchant=merchant, sku=sku).first()
    if product is None:
        raise ObjectNotFound(f"Product {sku} not found.", sku=sku)
    place = Location.objects.filter(merchant=merchant, code=location).first()
    if place is None:
        raise ObjectNotFound(f"Location {location} not found.", location=location)
    return StockLevel(merchant=merchant, product=product, location=place)


@dataclass
class LocationAvailability:
    location: str
    status: str
    takes_reservations: bool
    on_hand: int
    reserved: int
    safety_stock: int
    available: int


@dataclass
class SubstituteAvailability:
    """A product of the SKU's substitution group: what of it can be reserved now, and how many
    units of the SKU those stand in for (whole units only, see apps.inventory.substitution)."""

    sku: str
    units: int
    available: int
    stands_for: int


@dataclass
class Availability:
    sku: str
    active: bool
    requested: int
    available: int
    can_serve: bool
    can_serve_from_one_location: bool
    locations: list[LocationAvailability] = field(default_factory=list)
    # In a substitution group: the base units one of the SKU holds, and its substitutes by
    # priority. `can_serve_with_substitutes`: `requested` units can be reserved when the line
    # allows substitutes (its own available first, then the substitutes).
    units: int | None = None
    substitutes: list[SubstituteAvailability] = field(default_factory=list)
    can_serve_with_substitutes: bool = False
    # Served from the last known figures while the database was unreachable, `age_seconds`
    # old (see apps.inventory.availability_cache).
    stale: bool = False
    age_seconds: int | None = None


def for_quantity(base: Availability, quantity: int) -> Availability:
    """`base` answered for `quantity` (the figures do not depend on it)."""
    can_serve = base.active and base.available >= quantity
    options = [
        substitution.Option(place.sku, place.units, place.available) for place in base.substitutes
    ]
    return dataclasses.replace(
        base,
        requested=quantity,
        can_serve=can_serve,
        can_serve_from_one_location=base.active
        and any(place.available >= quantity for place in base.locations),
        can_serve_with_substitutes=can_serve
        or (
            base.active
            and base.units is not None
            and substitution.cover(quantity - base.available, base.units, options) is not None
        ),
    )


def availability_rows(*, merchant_id: int, sku: str) -> QuerySet:
    """The one query behind availability: the product's flag, its substitution group, and
    each level's figures, with the free units of the level's buckets (`in_buckets`)."""
    free = (
        StockBucket.objects.filter(stock_level_id=OuterRef("stock_levels__id"))
        .order_by()
        .values("stock_level_id")
        .annotate(free=Sum(F("allotted") - F("reserved")))
        .values("free")
    )
    return (
        Product.objects.filter(merchant_id=merchant_id, sku=sku)
        .values(
            "id",
            "is_active",
            "substitution_member__group_id",
            "substitution_member__units",
            "stock_levels__on_hand",
            "stock_levels__reserved",
            "stock_levels__safety_stock",
            "stock_levels__location__code",
            "stock_levels__location__status",
            "stock_levels__location__priority",
            in_buckets=Coalesce(Subquery(free, output_field=IntegerField()), 0),
        )
        .order_by("stock_levels__location__priority", "stock_levels__location__code")
    )


@dataclass(frozen=True)
class AvailabilityRead:
    """An availability answer with the products it was read from: the SKU's, then its
    substitutes' (a change to any of them changes the answer)."""

    result: Availability
    product_ids: tuple[int, ...]


def availability(*, merchant: Merchant, sku: str, quantity: int = 1) -> Availability:
    """What can be reserved of `sku` now, in total and per location, and with its substitutes.
    Only active locations count towards `available` (others take no reservations); an
    inactive product can serve nothing, nor can an inactive substitute stand in."""
    return availability_read(merchant=merchant, sku=sku, quantity=quantity).result


def availability_read(*, merchant: Merchant, sku: str, quantity: int = 1) -> AvailabilityRead:
    """`availability` with the ids of the products it read: one query, plus two for a SKU in
    a substitution group."""
    rows = list(availability_rows(merchant_id=merchant.pk, sku=sku))
    if not rows:
        raise ObjectNotFound(f"Product {sku} not found.", sku=sku)
    active = rows[0]["is_active"]
    locations = []
    for row in rows:
        if row["stock_levels__location__code"] is None:
            continue  # the product has no stock level anywhere
        on_hand, reserved = row["stock_levels__on_hand"], row["stock_levels__reserved"]
        safety, in_buckets = row["stock_levels__safety_stock"], row["in_buckets"]
        takes = row["stock_levels__location__status"] == Location.Status.ACTIVE
        reservable = max(on_hand - reserved - safety, 0) + in_buckets
        locations.append(
            LocationAvailability(
                location=row["stock_levels__location__code"],
                status=row["stock_levels__location__status"],
                takes_reservations=takes,
                on_hand=on_hand,
                reserved=reserved - in_buckets,  # free bucket units are not held by anyone
                safety_stock=safety,
                available=reservable if takes and active else 0,
            )
        )
    group_id, units = (
        rows[0]["substitution_member__group_id"],
        rows[0]["substitution_member__units"],
    )
    member_ids, substitutes = substitutes_available(
        group_id=group_id, units=units, except_id=rows[0]["id"]
    )
    base = Availability(
        sku=sku,
        active=active,
        requested=quantity,
        available=sum(place.available for place in locations),
        can_serve=False,
        can_serve_from_one_location=False,
        locations=locations,
        units=units,
        substitutes=substitutes,
    )
    return AvailabilityRead(for_quantity(base, quantity), (rows[0]["id"], *member_ids))


def availability_product_ids(*, merchant: Merchant, sku: str) -> tuple[int, ...]:
    """The ids `availability_read` will report for `sku`: the product's, then every other
    product of its substitution group by priority. One query."""
    found = (
        Product.objects.filter(merchant=merchant, sku=sku)
        .values_list("id", "substitution_member__group_id")
        .first()
    )
    if found is None:
        raise ObjectNotFound(f"Product {sku} not found.", sku=sku)
    product_id, group_id = found
    if group_id is None:
        return (product_id,)
    others = (
        SubstitutionMember.objects.filter(group_id=group_id)
        .exclude(product_id=product_id)
        .order_by("priority", "product__sku")
        .values_list("product_id", flat=True)
    )
    return (product_id, *others)


def substitutes_available(
    *, group_id: int | None, units: int | None, except_id: int
) -> tuple[tuple[int, ...], list[SubstituteAvailability]]:
    """The ids of the other products of a substitution group, by priority, and the figures of
    the active ones: what of each can be reserved at active locations. Two queries."""
    if group_id is None or units is None:
        return (), []
    members = list(
        SubstitutionMember.objects.filter(group_id=group_id)
        .exclude(product_id=except_id)
        .order_by("priority", "product__sku")
        .values_list("product_id", "product__sku", "units", "product__is_active")
    )
    active = {pk for pk, _, _, is_active in members if is_active}
    available: dict[int, int] = dict.fromkeys(active, 0)
    levels = (
        StockLevel.objects.with_buckets()
        .filter(product_id__in=active, location__status=Location.Status.ACTIVE)
        .values_list("product_id", "on_hand", "reserved", "safety_stock", "bucket_free")
    )
    for product_id, on_hand, reserved, safety, in_buckets in levels if active else ():
        available[product_id] += figures.available(
            on_hand=on_hand, reserved=reserved, safety_stock=safety, in_buckets=in_buckets
        )
    return tuple(pk for pk, *_ in members), [
        SubstituteAvailability(
            sku=sku,
            units=member_units,
            available=available[pk],
            stands_for=substitution.stands_for(
                units, substitution.Option(sku, member_units, available[pk])
            ),
        )
        for pk, sku, member_units, _ in members
        if pk in active
    ]


def ledger_list(
    *,
    merchant: Merchant,
    sku: str = "",
    location: str = "",
    reason: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    reference: str = "",
) -> QuerySet[LedgerEntry]:
    entries = LedgerEntry.objects.filter(merchant=merchant).select_related(
        "product", "location", "actor"
    )
    if sku:
        entries = entries.filter(product__sku=sku)
    if location:
        entries = entries.filter(location__code=location)
    if reason:
        entries = entries.filter(reason=reason)
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    if until is not None:
        entries = entries.filter(created_at__lt=until)
    if reference:
        # As given, or as the engine references its transfers and reservations (every row,
        # old ones included: the ledger is never rewritten).
        kinds = LedgerEntry.DOCUMENT_KINDS
        entries = entries.filter(reference__in=[reference, *(f"{k}:{reference}" for k in kinds)])
    return entries.order_by("-id")


def _reservation_lines() -> Prefetch:
    return Prefetch(
        "lines",
        queryset=ReservationLine.objects.select_related("product", "location", "substitute_for"),
    )


def reservation_status_q(status: str, *, now: datetime | None = None) -> Q:
    """Reservations whose status as of `now` is `status`: the rule of
    `Reservation.current_status` (active past `expires_at` is expired) as a filter."""
    now = now or timezone.now()
    active, expired = Reservation.Status.ACTIVE, Reservation.Status.EXPIRED
    if status == active:
        return Q(status=active, expires_at__gt=now)
    if status == expired:
        return Q(status=expired) | Q(status=active, expires_at__lte=now)
    return Q(status=status)


def reservation_list(
    *, merchant: Merchant, status: str = "", order_ref: str = ""
) -> QuerySet[Reservation]:
    reservations = Reservation.objects.filter(merchant=merchant).prefetch_related(
        _reservation_lines()
    )
    if status:
        reservations = reservations.filter(reservation_status_q(status))
    if order_ref:
        reservations = reservations.filter(order_ref=order_ref)
    return reservations.order_by("-created_at", "id")


def reservation_get(*, merchant: Merchant, reservation_id: uuid.UUID | str) -> Reservation:
    reservation = (
        reservation_list(merchant=merchant).filter(pk=reservation_id).first()
        if _is_uuid(reservation_id)
        else None
    )
    if reservation is None:
        raise ObjectNotFound(f"Reservation {reservation_id} not found.")
    return reservation


@dataclass(frozen=True)
class Returnable:
    """One SKU of a reservation: units sold, taken back so far, and still returnable."""

    sku: str
    committed: int
    returned: int

    @property
    def returnable(self) -> int:
        return self.committed - self.returned


def reservation_returnable(*, reservation: Reservation) -> dict[int, Returnable]:
    """Per product id of a committed reservation (by SKU): units sold and taken back so far;
    empty for a reservation that sold nothing. Two queries."""
    if reservation.status != Reservation.Status.COMMITTED:
        return {}
    sold = (
        ReservationLine.objects.filter(reservation=reservation)
        .values("product_id", "product__sku")
        .annotate(units=Sum("quantity"))
        .order_by("product__sku")
    )
    back = dict(
        ReservationReturnLine.objects.filter(reservation_return__reservation=reservation)
        .values("product_id")
        .annotate(units=Sum("quantity"))
        .values_list("product_id", "units")
    )
    return {
        row["product_id"]: Returnable(
            row["product__sku"], row["units"], back.get(row["product_id"], 0)
        )
        for row in sold
    }


def reservation_returns(
    *, merchant: Merchant, reservation_id: uuid.UUID | str
) -> QuerySet[ReservationReturn]:
    """The returns of one reservation, oldest first, with their lines."""
    reservation = reservation_get(merchant=merchant, reservation_id=reservation_id)
    return (
        ReservationReturn.objects.filter(reservation=reservation)
        .select_related("reservation")
        .prefetch_related("lines__product", "lines__location")
        .order_by("created_at", "id")
    )


def transfer_list(
    *, merchant: Merchant, status: str = "", carrier: str = "", tracking_number: str = ""
) -> QuerySet[Transfer]:
    transfers = (
        Transfer.objects.filter(merchant=merchant)
        .select_related("source_location", "destination_location")
        .prefetch_related(
            Prefetch("lines", queryset=TransferLine.objects.select_related("product"))
        )
    )
    if status:
        transfers = transfers.filter(status=status)
    if carrier:
        transfers = transfers.filter(carrier=carrier)
    if tracking_number:
        transfers = transfers.filter(tracking_number=tracking_number)
    return transfers.order_by("-created_at", "id")


def transfer_get(*, merchant: Merchant, transfer_id: uuid.UUID | str) -> Transfer:
    transfer = (
        transfer_list(merchant=merchant).filter(pk=transfer_id).first()
        if _is_uuid(transfer_id)
        else None
    )
    if transfer is None:
        raise ObjectNotFound(f"Transfer {transfer_id} not found.")
    return transfer


def _is_uuid(value: uuid.UUID | str) -> bool:
    if isinstance(value, uuid.UUID):
        return True
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


# --- Inventory records: stock levels as the specification's calls name them ---------------
def removed_q() -> Q:
    """Stock levels removed from the inventory records (`stock_level_remove`) and not changed
    since: recorded as removed at their current version (one index probe per level)."""
    removal = StockLevelRemoval.objects.filter(
        stock_level_id=OuterRef("pk"), version=OuterRef("version")
    )
    return Q(Exists(removal))


def inventory_record_list(
    *, merchant: Merchant, sku: str = "", location: str = "", low_stock: bool | None = None
) -> QuerySet[StockLevel]:
    """The merchant's stock levels, as `stock_level_list`, without those removed from the
    records (`stock_level_remove`) and not changed since."""
    return stock_level_list(
        merchant=merchant, sku=sku, location=location, low_stock=low_stock
    ).exclude(removed_q())


def inventory_record_get(*, merchant: Merchant, stock_level_id: int) -> StockLevel:
    """One stock level of the merchant by id, unless removed from the records."""
    level = inventory_record_list(merchant=merchant).filter(pk=stock_level_id).first()
    if level is None:
        raise ObjectNotFound(
            f"Inventory record {stock_level_id} not found.", inventory_id=stock_level_id
        )
    return level


@dataclass
class ProductStock:
    """One product's stock over all locations: totals of its levels' figures, and the levels."""

    product: Product
    on_hand: int
    reserved: int
    available: int
    damaged: int
    in_transit: int
    levels: list[StockLevel]


def product_stock(*, merchant: Merchant, sku: str) -> ProductStock:
    """The product's levels (those in the records) and their totals; ObjectNotFound for a SKU
    the merchant does not have. `reserved` counts units held by reservations and `available`
    sums each level's available, as the stock list shows them."""
    product = Product.objects.filter(merchant=merchant, sku=sku).first()
    if product is None:
        raise ObjectNotFound(f"Product {sku} not found.", sku=sku)
    levels = list(inventory_record_list(merchant=merchant, sku=sku))
    return ProductStock(
        product=product,
        on_hand=sum(level.on_hand for level in levels),
        reserved=sum(level.held for level in levels),
        available=sum(level.available for level in levels),
        damaged=sum(level.damaged for level in levels),
        in_transit=sum(level.in_transit for level in levels),
        levels=levels,
    )
