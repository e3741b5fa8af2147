"""Read-only report queries. Every figure is aggregated in the database (GROUP BY, FILTER,
window-free subqueries) over querysets scoped to what the user may see; Python only shapes
the handful of result rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from apps.inventory.models import (
    LedgerEntry,
    Reservation,
    StockLevel,
    Transfer,
    available_units,
    low_stock_q,
    out_of_stock_q,
)
from apps.inventory.selectors import reservation_status_q
from apps.locations.models import Location
from apps.merchants.admin_scoping import (
    Access,
    access_for,
    location_q,
    merchant_access,
    reservations_visible,
)
from apps.merchants.models import Merchant
from apps.reports.models import StockSnapshot

# Low and out of stock, and available, as everywhere else (apps.inventory.models): the low
# and out-of-stock lists read only the rows of the partial index `stocklevel_low_idx`.
LOW_STOCK = low_stock_q()
OUT_OF_STOCK = out_of_stock_q()
AVAILABLE = available_units()
MONEY = DecimalField(max_digits=18, decimal_places=2)
SOLD = (LedgerEntry.Reason.SALE, LedgerEntry.Reason.COMMIT)
LIST_LIMIT = 50


@dataclass(frozen=True)
class ReportScope:
    """What a report covers: the user's reach (or `access`, for a caller without a user, such
    as an API key), optionally narrowed to a merchant or location."""

    user: object
    merchant_id: int | None = None
    location_id: int | None = None
    access: Access | None = None

    @classmethod
    def of_merchant(cls, merchant_id: int, location_id: int | None = None) -> ReportScope:
        """Everything of one merchant (the API's reach: every credential reads it all)."""
        return cls(
            user=None,
            merchant_id=merchant_id,
            location_id=location_id,
            access=merchant_access(merchant_id),
        )

    def reach(self) -> Access:
        return self.access if self.access is not None else access_for(self.user)

    def _narrow(self, queryset: QuerySet, location_field: str = "location_id") -> QuerySet:
        if self.merchant_id:
            queryset = queryset.filter(merchant_id=self.merchant_id)
        if self.location_id:
            queryset = queryset.filter(**{location_field: self.location_id})
        return queryset

    def merchant_ids(self) -> list[int]:
        """Explicit merchant ids, so queries on (merchant, created_at) indexes can use them
        even for a superuser."""
        if self.merchant_id:
            return [self.merchant_id]
        access = self.reach()
        if access.is_superuser:
            return list(Merchant.objects.values_list("pk", flat=True))
        return sorted(access.merchants)

    def levels(self) -> QuerySet[StockLevel]:
        visible = location_q(self.reach(), "location_id")
        return self._narrow(StockLevel.objects.filter(visible))

    def ledger(self) -> QuerySet[LedgerEntry]:
        visible = location_q(self.reach(), "location_id")
        return self._narrow(
            LedgerEntry.objects.filter(visible, merchant_id__in=self.merchant_ids())
        )

    def snapshots(self) -> QuerySet[StockSnapshot]:
        visible = location_q(self.reach(), "location_id")
        return self._narrow(StockSnapshot.objects.filter(visible))


def with_location_names(rows: list[dict]) -> list[dict]:
    """Adds location code and name and merchant name to rows grouped by location_id (looked up
    in one query afterwards: grouping by the ids alone keeps the aggregate off the joins),
    ordered by merchant and location code."""
    locations = Location.objects.select_related("merchant").in_bulk(
        [row["location_id"] for row in rows]
    )
    for row in rows:
        location = locations[row["location_id"]]
        row.update(
            location__code=location.code,
            location__name=location.name,
            merchant__name=location.merchant.name,
        )
    return sorted(rows, key=lambda row: (row["merchant__name"], row["location__code"]))


def stock_by_location(scope: ReportScope) -> list[dict]:
    """Per location: SKUs stocked, on hand, reserved, available, damaged, in transit, low and
    out-of-stock counts and stock value (on hand x current price)."""
    rows = (
        scope.levels()
        .values("location_id")
        # Expressions over the row's columns come first: the later annotations named like
        # the columns (on_hand, reserved, ...) would otherwise shadow them.
        .annotate(
            available=Sum(AVAILABLE),
            value=Coalesce(
                Sum(F("on_hand") * F("product__price"), output_field=MONEY),
                Value(Decimal("0")),
                output_field=MONEY,
            ),
            low=Count("id", filter=LOW_STOCK & ~OUT_OF_STOCK),
            out=Count("id", filter=OUT_OF_STOCK),
        )
        .annotate(
            skus=Count("id"),
            on_hand=Sum("on_hand"),
            reserved=Sum("reserved"),
            damaged=Sum("damaged"),
            in_transit=Sum("in_transit"),
        )
        .order_by()
    )
    return with_location_names(list(rows))


def totals(rows: list[dict], fields: tuple[str, ...]) -> dict:
    """Column totals of a few aggregated rows."""
    return {name: sum((row[name] or 0) for row in rows) for name in fields}


def _level_rows(queryset: QuerySet[StockLevel]) -> QuerySet:
    return queryset.annotate(available_units=AVAILABLE).values(
        "id", "product__sku", "product__name", "location__code", "on_hand", "reserved",
        "safety_stock", "low_stock_threshold", "available_units", "updated_at",
    )  # fmt: skip


def low_stock(scope: ReportScope, limit: int = LIST_LIMIT) -> list[dict]:
    """Levels with some units available but at or below their threshold, fewest first."""
    rows = scope.levels().filter(LOW_STOCK).exclude(OUT_OF_STOCK)
    return list(_level_rows(rows).order_by("available_units", "product__sku")[:limit])


def out_of_stock(scope: ReportScope, limit: int = LIST_LIMIT) -> list[dict]:
    """Levels with nothing available, most recently changed first."""
    rows = scope.levels().filter(OUT_OF_STOCK)
    return list(_level_rows(rows).order_by("-updated_at")[:limit])


def movements_per_day(scope: ReportScope, days: int = 30) -> list[dict]:
    """For each of the last `days` days (UTC): ledger rows that changed on hand, units in and
    units out. Days without movements are included with zeros."""
    today = timezone.now().date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tzinfo=UTC)
    moved = (
        scope.ledger()
        .filter(created_at__gte=start)
        .exclude(on_hand_delta=0)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            movements=Count("id"),
            units_in=Coalesce(Sum("on_hand_delta", filter=Q(on_hand_delta__gt=0)), 0),
            units_out=Coalesce(Sum(-F("on_hand_delta"), filter=Q(on_hand_delta__lt=0)), 0),
        )
    )
    by_day = {row["day"]: row for row in moved}
    empty = {"movements": 0, "units_in": 0, "units_out": 0}
    return [
        {"day": day, **{k: by_day.get(day, empty)[k] for k in empty}}
        for day in (first + timedelta(days=n) for n in range(days))
    ]


def top_movers(scope: ReportScope, days: int = 30, limit: int = 10) -> list[dict]:
    """Products with the most units sold (direct sales and committed reservations)."""
    since = timezone.now() - timedelta(days=days)
    return list(
        scope.ledger()
        .filter(created_at__gte=since, reason__in=SOLD)
        .values("product_id", "product__sku", "product__name")
        .annotate(units=Sum(-F("on_hand_delta")), movements=Count("id"))
        .order_by("-units", "product__sku")[:limit]
    )


def reservations_expiring(
    scope: ReportScope, within: timedelta = timedelta(hours=1), limit: int = LIST_LIMIT
) -> list:
    """Active reservations whose TTL runs out within `within`, soonest first (those past it
    are expired already, sweeper or not)."""
    now = timezone.now()
    queryset = reservations_visible(Reservation.objects.all(), access=scope.reach()).filter(
        reservation_status_q(Reservation.Status.ACTIVE, now=now), expires_at__lte=now + within
    )
    if scope.merchant_id:
        queryset = queryset.filter(merchant_id=scope.merchant_id)
    if scope.location_id:
        queryset = queryset.filter(lines__location_id=scope.location_id).distinct()
    return list(
        queryset.annotate(units=Sum("lines__quantity"))
        .values("id", "order_ref", "expires_at", "units", "merchant__name")
        .order_by("expires_at")[:limit]
    )


def transfers_in_transit(scope: ReportScope, limit: int = LIST_LIMIT) -> list[dict]:
    access = scope.reach()
    visible = location_q(access, "source_location_id") | location_q(
        access, "destination_location_id"
    )
    queryset = Transfer.objects.filter(visible, status=Transfer.Status.IN_TRANSIT)
    if scope.merchant_id:
        queryset = queryset.filter(merchant_id=scope.merchant_id)
    if scope.location_id:
        queryset = queryset.filter(
            Q(source_location_id=scope.location_id) | Q(destination_location_id=scope.location_id)
        )
    return list(
        queryset.annotate(units=Sum("lines__quantity"), lines_count=Count("lines"))
        .values(
            "id",
            "reference",
            "source_location__code",
            "destination_location__code",
            "shipped_at",
            "units",
            "lines_count",
        )
        .order_by("shipped_at")[:limit]
    )


def end_of_day(day: date) -> datetime:
    """The first instant after `day` (UTC): balances "as of" a day are those before it."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


LATEST_COLUMNS = (
    "merchant_id", "stock_level_id", "product_id", "location_id", "on_hand_after",
    "reserved_after", "damaged_after", "in_transit_after", "safety_stock_after",
)  # fmt: skip


def latest_entries_before(ledger: QuerySet[LedgerEntry], cutoff: datetime) -> QuerySet:
    """Per stock level, its last ledger row before `cutoff`, whose *_after columns are the
    level's balances then. PostgreSQL: DISTINCT ON (stock_level_id) ORDER BY id DESC; other
    databases: the rows whose id is their level's max id."""
    before = ledger.filter(created_at__lt=cutoff)
    if connection.vendor == "postgresql":
        latest = before.order_by("stock_level_id", "-id").distinct("stock_level_id")
    else:
        last_ids = before.order_by().values("stock_level_id").annotate(last=Max("id"))
        latest = LedgerEntry.objects.filter(id__in=last_ids.values("last"))
    return latest.values(*LATEST_COLUMNS)


BALANCE_COLUMNS = (
    "merchant_id, stock_level_id, product_id, location_id, on_hand, reserved, damaged, "
    "in_transit, available, value"
)


def base_snapshot_day(day: date) -> date | None:
    """The latest day before `day` with a snapshot (snapshots are taken whole, in one
    transaction, so a day that has rows has all of them)."""
    return StockSnapshot.objects.filter(date__lt=day).aggregate(latest=Max("date"))["latest"]


def balances_sql(
    ledger: QuerySet[LedgerEntry],
    day: date,
    snapshots: QuerySet[StockSnapshot] | None = None,
) -> tuple[str, tuple]:
    """SQL (and params) selecting every level's balances at the end of `day` as
    BALANCE_COLUMNS, value at the current price, to aggregate or insert from in one statement.

    With `snapshots` (scoped like `ledger`) and an earlier snapshot day S, only the ledger rows
    after S are read: levels that moved since take their last row, the others S's figures.
    Without, every level's last row before the cutoff is found in the whole ledger."""
    cutoff = end_of_day(day)
    base = base_snapshot_day(day) if snapshots is not None else None
    if base is not None:
        ledger = ledger.filter(created_at__gte=end_of_day(base))
    inner, params = latest_entries_before(ledger, cutoff).query.sql_with_params()
    sql = f"""SELECT e.merchant_id, e.stock_level_id, e.product_id, e.location_id,
            e.on_hand_after AS on_hand, e.reserved_after AS reserved,
            e.damaged_after AS damaged, e.in_transit_after AS in_transit,
            CASE WHEN e.on_hand_after - e.reserved_after - e.safety_stock_after > 0
                 THEN e.on_hand_after - e.reserved_after - e.safety_stock_after ELSE 0 END
                AS available,
            e.on_hand_after * p.price AS value
        FROM ({inner}) e JOIN catalog_product p ON p.id = e.product_id"""
    if base is None:
        return sql, params
    moved = ledger.filter(created_at__lt=cutoff, stock_level_id=OuterRef("stock_level_id"))
    carried, carried_params = (
        snapshots.filter(~Exists(moved), date=base)
        .values("merchant_id", "stock_level_id", "product_id", "location_id", "on_hand",
                "reserved", "damaged", "in_transit", "available", "product__price")
        .query.sql_with_params()
    )  # fmt: skip
    sql = f"""{sql}
        UNION ALL
        SELECT c.merchant_id, c.stock_level_id, c.product_id, c.location_id, c.on_hand,
            c.reserved, c.damaged, c.in_transit, c.available, c.on_hand * c.product__price
        FROM ({carried}) c"""
    return sql, (*params, *carried_params)


_AS_OF_TOTALS = ("skus", "on_hand", "reserved", "available", "damaged", "in_transit", "value")


def stock_as_of(scope: ReportScope, day: date) -> tuple[list[dict], str]:
    """Stock per location at the end of `day`: from the daily snapshot when one was taken for
    that day, else rebuilt from the ledger (starting at the latest earlier snapshot, if any).
    Returns (rows, "snapshot" | "ledger"). Values use the price at snapshot time (snapshots)
    or the current price (ledger)."""
    snapshots = scope.snapshots().filter(date=day)
    if snapshots.exists():
        rows = list(
            snapshots.values("location_id")
            .annotate(
                skus=Count("id"),
                on_hand=Sum("on_hand"),
                reserved=Sum("reserved"),
                available=Sum("available"),
                damaged=Sum("damaged"),
                in_transit=Sum("in_transit"),
                value=Sum("value"),
            )
            .order_by()
        )
        return with_location_names(rows), "snapshot"
    balances, params = balances_sql(scope.ledger(), day, scope.snapshots())
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT location_id, COUNT(*), SUM(on_hand), SUM(reserved), SUM(available),
                SUM(damaged), SUM(in_transit), SUM(value)
            FROM ({balances}) b GROUP BY location_id""",
            params,
        )
        rows = [
            {"location_id": row[0], **dict(zip(_AS_OF_TOTALS, row[1:], strict=True))}
            for row in cursor.fetchall()
        ]
    for row in rows:
        row["value"] = Decimal(row["value"] or 0).quantize(Decimal("0.01"))
    return with_location_names(rows), "ledger"


def stock_history(scope: ReportScope, days: int = 90) -> list[dict]:
    """Daily totals from the snapshots of the last `days` days: on hand, available, value."""
    since = timezone.now().date() - timedelta(days=days)
    return list(
        scope.snapshots()
        .filter(date__gte=since)
        .values("date")
        .annotate(
            on_hand=Sum("on_hand"),
            available=Sum("available"),
            value=Sum("value"),
        )
        .order_by("date")
    )
