"""Stock state and its history.

Quantity columns are written only by `apps.inventory.services` (see docs/stock-model.md).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import ExpressionWrapper, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Greatest
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from apps.inventory import figures


class Source(models.TextChoices):
    """Which channel asked for a change."""

    ADMIN = "admin", "Admin"
    API = "api", "API"
    POS = "pos", "Point of sale"
    SUPPLIER = "supplier", "Supplier feed"
    SYSTEM = "system", "System"
    IMPORT = "import", "Import"


# Upper bound of any quantity column: keeps sums far from the 32-bit integer limit, so an
# absurd receipt is a clear refusal instead of a database overflow.
MAX_QUANTITY = 1_000_000_000
MAX_BUCKETS = 64

# A ledger row's API key: the rows keep the key's id and name as written, whatever becomes of
# the key (no database constraint: a key's deletion neither waits for nor scans the ledger,
# and adding the column to the append-only ledger takes no long lock).
API_KEY_ACTOR = {
    "to": "apikeys.ApiKey",
    "on_delete": models.DO_NOTHING,
    "db_constraint": False,
    "db_index": False,
    "null": True,
    "blank": True,
    "related_name": "+",
}


def free_in_buckets() -> Coalesce:
    """The free units (allotted - reserved) of a level's buckets, as an expression over the
    level's row: counted in `reserved`, yet available. One index probe per level."""
    free = (
        StockBucket.objects.filter(stock_level_id=OuterRef("pk"))
        .order_by()
        .values("stock_level_id")
        .annotate(free=Sum(F("allotted") - F("reserved")))
        .values("free")
    )
    return Coalesce(Subquery(free, output_field=models.IntegerField()), 0)


def available_units() -> ExpressionWrapper:
    """`StockLevel.available` as an expression: what can be reserved or sold."""
    own = Greatest(F("on_hand") - F("reserved") - F("safety_stock"), Value(0))
    return ExpressionWrapper(own + free_in_buckets(), output_field=models.IntegerField())


# Implied by low and by out of stock (free bucket units are never negative): it lets the
# planner read only the rows of the partial index `stocklevel_low_idx`.
_AT_OR_BELOW_THRESHOLD = Q(
    on_hand__lte=F("reserved") + F("safety_stock") + F("low_stock_threshold")
)


def low_stock_q() -> Q:
    """Low stock, the one definition (`StockLevel.is_low` in Python): a threshold above 0
    (0 turns it off) and available at or below it. Used by the API, admin, reports, alerts."""
    return (
        _AT_OR_BELOW_THRESHOLD
        & Q(low_stock_threshold__gt=0)
        & Q(LessThanOrEqual(available_units(), F("low_stock_threshold")))
    )


def out_of_stock_q() -> Q:
    """Nothing available (free bucket units included), whatever the threshold."""
    return (
        _AT_OR_BELOW_THRESHOLD
        & Q(on_hand__lte=F("reserved") + F("safety_stock"))
        & Q(LessThanOrEqual(available_units(), Value(0)))
    )


class StockLevelQuerySet(models.QuerySet):
    def with_buckets(self) -> StockLevelQuerySet:
        """Annotate `bucket_free`: the free units (allotted - reserved) of each level's buckets,
        which `available` adds to the level's own, and `held_units`: `reserved` without them
        (the units held by reservations). One index probe per level."""
        return self.annotate(bucket_free=free_in_buckets()).annotate(
            held_units=F("reserved") - F("bucket_free")
        )


class StockLevel(models.Model):
    """Stock of one product at one location.

    `on_hand` counts sellable units physically present (damaged units are held apart in
    `damaged`); `reserved` is the part of `on_hand` promised to open reservations;
    `in_transit` counts units shipped to this location by a transfer and not yet received.
    available = max(on_hand - reserved - safety_stock, 0).
    """

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="stock_levels"
    )
    location = models.ForeignKey(
        "locations.Location", on_delete=models.PROTECT, related_name="stock_levels"
    )
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    damaged = models.IntegerField(default=0)
    in_transit = models.IntegerField(default=0)
    safety_stock = models.IntegerField(default=0)
    low_stock_threshold = models.IntegerField(default=0)
    reorder_point = models.IntegerField(default=0)
    max_level = models.IntegerField(null=True, blank=True)
    # Opt-in for a SKU too hot for one row: the reservable units are split over this many
    # StockBucket rows that reservations take from independently (0: off).
    bucket_count = models.SmallIntegerField(default=0)
    version = models.BigIntegerField(default=0)
    # When the last receipt and the last sale took effect (stamped by the movement statement).
    last_received_at = models.DateTimeField(null=True, blank=True)
    last_sold_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StockLevelQuerySet.as_manager()

    class Meta:
        ordering = ["product_id", "location_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "location"], name="stocklevel_product_location_uniq"
            ),
            models.CheckConstraint(
                condition=Q(on_hand__gte=0), name="stocklevel_on_hand_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(reserved__gte=0), name="stocklevel_reserved_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(damaged__gte=0), name="stocklevel_damaged_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(in_transit__gte=0), name="stocklevel_in_transit_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(safety_stock__gte=0), name="stocklevel_safety_stock_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(low_stock_threshold__gte=0), name="stocklevel_threshold_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(reorder_point__gte=0), name="stocklevel_reorder_point_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(max_level__isnull=True) | Q(max_level__gte=0),
                name="stocklevel_max_level_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="stocklevel_reserved_within_on_hand"
            ),
            models.CheckConstraint(
                condition=Q(version__gte=0), name="stocklevel_version_nonnegative"
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "location"], name="stocklevel_merchant_loc_idx"),
            models.Index(fields=["merchant", "product"], name="stocklevel_merchant_prod_idx"),
            models.Index(fields=["location", "product"], name="stocklevel_location_prod_idx"),
            # Low-stock lists and filters read only the (few) rows at or below threshold.
            models.Index(
                fields=["merchant", "location"],
                name="stocklevel_low_idx",
                condition=Q(
                    on_hand__lte=F("reserved") + F("safety_stock") + F("low_stock_threshold")
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.sku} at {self.location.code}"

    @property
    def in_buckets(self) -> int:
        """Free units held by the level's buckets (counted in `reserved`, yet reservable).
        Read from the `bucket_free` annotation (`StockLevel.objects.with_buckets()`); 0 when
        the level was loaded without it."""
        return getattr(self, "bucket_free", 0) or 0

    @property
    def held(self) -> int:
        """Units promised to reservations: `reserved` minus the free units of its buckets."""
        return self.reserved - self.in_buckets

    @property
    def available(self) -> int:
        """What can be reserved or sold (see apps.inventory.figures)."""
        return figures.available(
            on_hand=self.on_hand,
            reserved=self.reserved,
            safety_stock=self.safety_stock,
            in_buckets=self.in_buckets,
        )

    @property
    def movable(self) -> int:
        """What a physical move may take: available plus the safety stock among the units on
        hand that no reservation holds (see apps.inventory.figures)."""
        return figures.movable(
            on_hand=self.on_hand, reserved=self.reserved, in_buckets=self.in_buckets
        )

    @property
    def is_low(self) -> bool:
        """See `low_stock_q`: a threshold above 0 (0 turns it off), available at or below it."""
        return self.low_stock_threshold > 0 and self.available <= self.low_stock_threshold


class LedgerEntry(models.Model):
    """One change of one stock level. Append-only: on PostgreSQL a trigger refuses UPDATE and
    DELETE. Replaying the deltas of a level's entries gives its balances."""

    class Reason(models.TextChoices):
        RECEIVE = "receive", "Receipt"
        SALE = "sale", "Sale (direct shipment)"
        ADJUST = "adjust", "Adjustment"
        COUNT = "count", "Cycle count"
        DAMAGE = "damage", "Damaged"
        WRITE_OFF = "write_off", "Damaged written off"
        RESERVE = "reserve", "Reserved"
        RELEASE = "release", "Reservation released"
        EXPIRE = "expire", "Reservation expired"
        COMMIT = "commit", "Reservation committed (sold)"
        TRANSFER_OUT = "transfer_out", "Transfer shipped out"
        TRANSFER_IN_TRANSIT = "transfer_in_transit", "Transfer on its way in"
        TRANSFER_IN = "transfer_in", "Transfer received"
        RETURN = "return", "Return"
        CONFIGURE = "configure", "Safety stock or thresholds changed"
        BUCKET_FILL = "bucket_fill", "Units allotted to buckets"
        BUCKET_DRAIN = "bucket_drain", "Units given back by buckets"

    # The engine references its own documents as "<kind>:<reference>" (`transfer:TR-1`,
    # `reservation:<id>`); the ledger's reference filter finds them by the bare form too.
    DOCUMENT_KINDS = ("transfer", "reservation")

    id = models.BigAutoField(primary_key=True)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    stock_level = models.ForeignKey(
        StockLevel, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("locations.Location", on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=24, choices=Reason.choices)
    on_hand_delta = models.IntegerField(default=0)
    reserved_delta = models.IntegerField(default=0)
    damaged_delta = models.IntegerField(default=0)
    in_transit_delta = models.IntegerField(default=0)
    on_hand_after = models.IntegerField()
    reserved_after = models.IntegerField()
    damaged_after = models.IntegerField()
    in_transit_after = models.IntegerField()
    safety_stock_after = models.IntegerField()
    version_after = models.BigIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The API key of an API write (`actor` is then empty), with its name as it was.
    actor_api_key = models.ForeignKey(**API_KEY_ACTOR)
    actor_api_key_name = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.SYSTEM)
    reference = models.CharField(max_length=200, blank=True)
    note = models.CharField(max_length=500, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()
    # When the movement took effect, when the caller said so and it was before it was recorded
    # (a late POS sale or count); empty: when recorded (`created_at`). Never after created_at.
    # A count as of a moment adds every on-hand movement that took effect after it.
    occurred_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "ledger entries"
        indexes = [
            models.Index(fields=["stock_level", "id"], name="ledger_level_idx"),
            models.Index(fields=["merchant", "created_at"], name="ledger_merchant_time_idx"),
            models.Index(
                fields=["merchant", "reason", "created_at"], name="ledger_merchant_reason_idx"
            ),
            models.Index(fields=["product", "created_at"], name="ledger_product_time_idx"),
            models.Index(fields=["location", "created_at"], name="ledger_location_time_idx"),
            models.Index(
                fields=["merchant", "idempotency_key"],
                name="ledger_idempotency_idx",
                condition=~Q(idempotency_key=""),
            ),
            models.Index(
                fields=["merchant", "reference"],
                name="ledger_reference_idx",
                condition=~Q(reference=""),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_reason_display()}"


class StockBucket(models.Model):
    """A share of one stock level's reservable units, reserved from without touching the level
    row. `allotted` units are counted in the level's `reserved` (promised to the bucket pool);
    `reserved` of them are held by reservation lines, `allotted - reserved` are free."""

    stock_level = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="buckets")
    number = models.PositiveSmallIntegerField()
    allotted = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    version = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["stock_level_id", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["stock_level", "number"], name="stockbucket_level_number_uniq"
            ),
            models.CheckConstraint(
                condition=Q(reserved__gte=0), name="stockbucket_reserved_nonnegative"
            ),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("allotted")),
                name="stockbucket_reserved_within_allotted",
            ),
            models.CheckConstraint(
                condition=Q(version__gte=0), name="stockbucket_version_nonnegative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stock_level_id}#{self.number}"

    @property
    def free(self) -> int:
        return self.allotted - self.reserved


class BucketLedgerEntry(models.Model):
    """One change of one bucket. Append-only like `LedgerEntry` (same trigger); replaying a
    bucket's entries gives its balances, and their count is its version."""

    class Reason(models.TextChoices):
        FILL = "bucket_fill", "Units allotted from the level"
        DRAIN = "bucket_drain", "Free units given back to the level"
        RESERVE = "reserve", "Reserved"
        RELEASE = "release", "Reservation released"
        EXPIRE = "expire", "Reservation expired"
        COMMIT = "commit", "Reservation committed (sold)"

    id = models.BigAutoField(primary_key=True)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    bucket = models.ForeignKey(StockBucket, on_delete=models.PROTECT, related_name="entries")
    stock_level = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=24, choices=Reason.choices)
    allotted_delta = models.IntegerField(default=0)
    reserved_delta = models.IntegerField(default=0)
    allotted_after = models.IntegerField()
    reserved_after = models.IntegerField()
    version_after = models.BigIntegerField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_api_key = models.ForeignKey(**API_KEY_ACTOR)
    actor_api_key_name = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.SYSTEM)
    reference = models.CharField(max_length=200, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "bucket ledger entries"
        indexes = [
            models.Index(fields=["bucket", "id"], name="bucketledger_bucket_idx"),
            models.Index(fields=["stock_level", "id"], name="bucketledger_level_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_reason_display()} (bucket {self.bucket_id})"


class Reservation(models.Model):
    """Units held for an order until committed (sold), released, or expired by its TTL."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMMITTED = "committed", "Committed"
        RELEASED = "released", "Released"
        EXPIRED = "expired", "Expired"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    order_ref = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.SYSTEM)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["expires_at"], name="reservation_due_idx", condition=Q(status="active")
            ),
            models.Index(fields=["merchant", "status", "created_at"], name="reservation_list_idx"),
            models.Index(fields=["merchant", "order_ref"], name="reservation_order_idx"),
        ]

    def __str__(self) -> str:
        return f"Reservation {self.order_ref or self.pk} ({self.get_status_display().lower()})"

    @property
    def current_status(self) -> str:
        """The status as of now: an active reservation is `expired` as soon as `expires_at`
        has passed (a commit is refused from then on), although its units go back only when
        the sweeper (or a release) expires it. Every read reports this one, never `status`
        alone (`apps.inventory.selectors.reservation_status_q` is the same rule in SQL)."""
        if self.status == self.Status.ACTIVE and self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.status


class ReservationLine(models.Model):
    reservation = models.ForeignKey(Reservation, on_delete=models.CASCADE, related_name="lines")
    stock_level = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("locations.Location", on_delete=models.PROTECT, related_name="+")
    quantity = models.IntegerField()
    # The bucket the units were taken from (None: from the level itself).
    bucket = models.ForeignKey(
        StockBucket,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # the partial index below: lines from the level itself add nothing
    )
    # A substitute's line: the SKU asked for and how many of it the line stands in for.
    substitute_for = models.ForeignKey(
        "catalog.Product", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False,
        null=True, blank=True, related_name="+",
    )  # fmt: skip
    substitute_for_quantity = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="reservationline_quantity_positive"
            )
        ]
        indexes = [
            models.Index(
                fields=["bucket"],
                name="reservationline_bucket_idx",
                condition=Q(bucket__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of {self.product.sku} at {self.location.code}"


class Transfer(models.Model):
    """Stock moving between two locations of one merchant:
    draft -> in_transit (shipped) -> received, or draft -> cancelled."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_TRANSIT = "in_transit", "In transit"
        RECEIVED = "received", "Received"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="+")
    source_location = models.ForeignKey(
        "locations.Location", on_delete=models.PROTECT, related_name="outgoing_transfers"
    )
    destination_location = models.ForeignKey(
        "locations.Location", on_delete=models.PROTECT, related_name="incoming_transfers"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    reference = models.CharField(max_length=200, blank=True)
    note = models.CharField(max_length=500, blank=True)
    carrier = models.CharField(max_length=100, blank=True)
    tracking_number = models.CharField(max_length=100, blank=True)
    shipping_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    shipped_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(source_location=F("destination_location")),
                name="transfer_distinct_locations",
            )
        ]
        indexes = [
            models.Index(fields=["merchant", "status", "created_at"], name="transfer_list_idx"),
            models.Index(
                fields=["merchant", "tracking_number"],
                name="transfer_tracking_idx",
                condition=~Q(tracking_number=""),
            ),
            models.Index(
                fields=["merchant", "carrier", "created_at"],
                name="transfer_carrier_idx",
                condition=~Q(carrier=""),
            ),
        ]

    def __str__(self) -> str:
        return f"Transfer {self.reference or self.pk} ({self.get_status_display().lower()})"


class TransferLine(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.IntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="transferline_quantity_positive"
            ),
            models.UniqueConstraint(
                fields=["transfer", "product"], name="transferline_product_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of {self.product.sku}"


class OutboxEvent(models.Model):
    """An event to publish (websocket groups, webhooks), written in the transaction that caused
    it. Stock changes point at their ledger entry; other events carry a payload."""

    id = models.BigAutoField(primary_key=True)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.CASCADE, related_name="+")
    topic = models.CharField(max_length=64)
    ledger_entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="event"
    )
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"], name="outbox_pending_idx", condition=Q(published_at__isnull=True)
            ),
            models.Index(fields=["merchant", "id"], name="outbox_merchant_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}"


from apps.inventory.models_removal import StockLevelRemoval  # noqa: E402, F401
from apps.inventory.models_returns import ReservationReturn, ReservationReturnLine  # noqa: E402, F401
