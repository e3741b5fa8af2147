"""Request and response shapes of the stock endpoints. Field names are a contract with
integrators: extend, never rename. No quantity logic here: the services decide."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from apps.api.serializers import RequestSerializer
from apps.inventory.models import (
    MAX_BUCKETS,
    MAX_QUANTITY,
    LedgerEntry,
    Reservation,
    ReservationReturn,
    Transfer,
)
from apps.inventory.services.lines import MAX_LINES

MAX_VERSION = 2**62

SKU = {"max_length": 64, "help_text": "Product SKU."}
LOCATION = {"max_length": 50, "help_text": "Location code."}


# --- Stock levels ---------------------------------------------------------------------------
class StockLevelSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    location = serializers.CharField(source="location.code")
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField(
        source="held", help_text="Units held by active reservations."
    )
    available = serializers.IntegerField(
        help_text="on_hand - reserved - safety_stock, never below 0: what can be reserved."
    )
    safety_stock = serializers.IntegerField()
    damaged = serializers.IntegerField()
    in_transit = serializers.IntegerField()
    low_stock_threshold = serializers.IntegerField()
    reorder_point = serializers.IntegerField()
    max_level = serializers.IntegerField(allow_null=True)
    bucket_count = serializers.IntegerField(
        help_text="Buckets the reservable units are split over (0: off). For a SKU too hot "
        "for one row: one-line reservations then take units from a bucket, not the level."
    )
    in_buckets = serializers.IntegerField(
        help_text="Available units currently held free in the buckets (part of available)."
    )
    low_stock = serializers.BooleanField(
        source="is_low",
        help_text="The threshold is above 0 (0 turns it off) and available is at or below it.",
    )
    version = serializers.IntegerField(help_text="Bumped by every change; also the ETag.")
    last_received_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the latest receipt (from a supplier or a transfer) took effect; null: "
        "never.",
    )
    last_sold_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the latest sale (direct or a committed reservation) took effect; null: "
        "never.",
    )
    updated_at = serializers.DateTimeField(allow_null=True)


class StockLevelFilterSerializer(serializers.Serializer):
    sku = serializers.CharField(required=False, **SKU)
    location = serializers.CharField(required=False, **LOCATION)
    low_stock = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only low levels (a low-stock threshold above 0, available at or "
        "below it); false: the others.",
    )
    below_reorder_point = serializers.BooleanField(required=False, allow_null=True, default=None)
    not_sold_since = serializers.DateTimeField(
        required=False,
        help_text="Only levels with no sale since this time (never sold included): slow movers.",
    )
    received_since = serializers.DateTimeField(
        required=False, help_text="Only levels that received stock at or after this time."
    )


class StockLevelSettingsSerializer(RequestSerializer):
    safety_stock = serializers.IntegerField(min_value=0, max_value=MAX_QUANTITY, required=False)
    low_stock_threshold = serializers.IntegerField(
        min_value=0, max_value=MAX_QUANTITY, required=False
    )
    reorder_point = serializers.IntegerField(min_value=0, max_value=MAX_QUANTITY, required=False)
    max_level = serializers.IntegerField(
        min_value=0,
        max_value=MAX_QUANTITY,
        required=False,
        allow_null=True,
        help_text="null removes the maximum.",
    )
    bucket_count = serializers.IntegerField(
        min_value=0,
        max_value=MAX_BUCKETS,
        required=False,
        help_text="Split the reservable units over this many buckets (0 turns it off). "
        "PostgreSQL only.",
    )
    expected_version = serializers.IntegerField(
        min_value=0, max_value=MAX_VERSION, required=False, allow_null=True
    )

    def validate(self, attrs):
        if not set(attrs) - {"expected_version"}:
            raise serializers.ValidationError(
                "Send at least one of safety_stock, low_stock_threshold, reorder_point, "
                "max_level, bucket_count."
            )
        return attrs


# --- Availability -------------------------------------------------------------------------
class AvailabilityQuerySerializer(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, default=1)


class LocationAvailabilitySerializer(serializers.Serializer):
    location = serializers.CharField()
    status = serializers.CharField()
    takes_reservations = serializers.BooleanField()
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    safety_stock = serializers.IntegerField()
    available = serializers.IntegerField()


class SubstituteAvailabilitySerializer(serializers.Serializer):
    sku = serializers.CharField()
    units = serializers.IntegerField(help_text="Base units one of the substitute holds.")
    available = serializers.IntegerField(help_text="Units of it that can be reserved.")
    stands_for = serializers.IntegerField(
        help_text="Units of the SKU asked for that those stand in for (whole units only)."
    )


class AvailabilitySerializer(serializers.Serializer):
    sku = serializers.CharField()
    active = serializers.BooleanField()
    requested = serializers.IntegerField()
    available = serializers.IntegerField(help_text="Total over locations taking reservations.")
    can_serve = serializers.BooleanField(help_text="Whether `requested` units can be reserved.")
    can_serve_from_one_location = serializers.BooleanField()
    locations = LocationAvailabilitySerializer(many=True)
    units = serializers.IntegerField(
        allow_null=True,
        help_text="Base units one of the SKU holds, in its substitution group (null: none).",
    )
    substitutes = SubstituteAvailabilitySerializer(
        many=True, help_text="The other active products of its substitution group, by priority."
    )
    can_serve_with_substitutes = serializers.BooleanField(
        help_text="Whether `requested` units can be reserved by a line that allows "
        "substitutes: the SKU's own units first, then substitutes, in whole units."
    )
    stale = serializers.BooleanField(
        help_text="True while the database cannot be reached: these are the last figures read "
        "from it (`age_seconds` old), also said by a `Warning` header."
    )
    age_seconds = serializers.IntegerField(
        allow_null=True, help_text="How old stale figures are; null when current."
    )


# --- Stock changes ------------------------------------------------------------------------
class _LineBase(RequestSerializer):
    sku = serializers.CharField(**SKU)
    location = serializers.CharField(**LOCATION)
    expected_version = serializers.IntegerField(
        min_value=0,
        max_value=MAX_VERSION,
        required=False,
        allow_null=True,
        help_text="Compare-and-set: refused with 412 unless the level is at this version.",
    )


class QuantityLineSerializer(_LineBase):
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class CountLineSerializer(_LineBase):
    quantity = serializers.IntegerField(
        min_value=0, max_value=MAX_QUANTITY, help_text="The counted on-hand quantity."
    )


class AdjustmentLineSerializer(_LineBase):
    delta = serializers.IntegerField(
        min_value=-MAX_QUANTITY, max_value=MAX_QUANTITY, help_text="Signed change of on_hand."
    )

    def validate_delta(self, delta: int) -> int:
        if delta == 0:
            raise serializers.ValidationError("An adjustment's delta must not be zero.")
        return delta


REASON = {
    "max_length": 500,
    "required": False,
    "allow_blank": True,
    "help_text": "Why (kept in the ledger note).",
}
REFERENCE = {
    "max_length": 200,
    "required": False,
    "allow_blank": True,
    "help_text": "Your document number (PO, order, count sheet).",
}


def change_serializers(
    name: str, line: type[serializers.Serializer], *, reason_required: bool
) -> tuple[type[serializers.Serializer], type[serializers.Serializer]]:
    """(one change, a batch of lines) request serializers for one kind of stock change."""
    reason = {**REASON, "required": reason_required, "allow_blank": not reason_required}
    single = type(
        f"{name}Request",
        (line,),
        {
            "reason": serializers.CharField(**reason),
            "reference": serializers.CharField(**REFERENCE),
            "__doc__": f"One {name.lower()} line.",
        },
    )
    batch = type(
        f"{name}BatchRequest",
        (RequestSerializer,),
        {
            "lines": line(many=True, min_length=1, max_length=MAX_LINES),
            "reason": serializers.CharField(**reason),
            "reference": serializers.CharField(**REFERENCE),
            "__doc__": f"Several {name.lower()} lines, applied all or none.",
        },
    )
    return single, batch


class LevelAfterSerializer(serializers.Serializer):
    sku = serializers.CharField()
    location = serializers.CharField()
    ledger_id = serializers.IntegerField()
    reason = serializers.CharField()
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()
    safety_stock = serializers.IntegerField()
    damaged = serializers.IntegerField()
    in_transit = serializers.IntegerField()
    version = serializers.IntegerField()


class StockChangeResponseSerializer(serializers.Serializer):
    ledger_ids = serializers.ListField(child=serializers.IntegerField())
    levels = LevelAfterSerializer(many=True, help_text="The new level of each line.")


# --- Reservations -------------------------------------------------------------------------
class NearSerializer(RequestSerializer):
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)


class ReservationLineRequestSerializer(RequestSerializer):
    sku = serializers.CharField(**SKU)
    location = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=50,
        help_text="Leave out to allocate over active locations by priority (or `near`).",
    )
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    substitutes = serializers.BooleanField(
        required=False,
        default=False,
        help_text="When the SKU is short, take other products of its substitution group for "
        "the rest (in whole units, all or nothing; at the same location for a located line). "
        "The line's answer says what was taken.",
    )


class ReservationRequestSerializer(RequestSerializer):
    lines = ReservationLineRequestSerializer(many=True, min_length=1, max_length=MAX_LINES)
    ttl_seconds = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    order_ref = serializers.CharField(max_length=200, required=False, allow_blank=True)
    near = NearSerializer(
        required=False,
        allow_null=True,
        help_text="Allocate unlocated lines from the nearest locations first.",
    )


class ExtendRequestSerializer(RequestSerializer):
    ttl_seconds = serializers.IntegerField(min_value=1, help_text="New expiry: now + this.")


class SubstituteForSerializer(serializers.Serializer):
    """The SKU a substitute's line stands in for, and how many units of it."""

    sku = serializers.CharField(source="substitute_for.sku")
    quantity = serializers.IntegerField(source="substitute_for_quantity")

    def to_representation(self, instance):
        if instance.substitute_for_id is None:
            return None
        return super().to_representation(instance)


class ReservationLineSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    location = serializers.CharField(source="location.code")
    quantity = serializers.IntegerField()
    # Not read-only (this serializer only writes answers out): the schema then leaves it out
    # of the required properties, as the answer leaves it out of a line of the SKU asked for.
    substitute_for = SubstituteForSerializer(
        source="*",
        required=False,
        help_text="Only on a substitute's line: the SKU asked for and how many units of it "
        "this line stands in for.",
    )

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if data["substitute_for"] is None:
            del data["substitute_for"]
        return data


class ReservationSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(
        choices=Reservation.Status.choices,
        source="current_status",
        help_text="`expired` as soon as `expires_at` has passed.",
    )
    order_ref = serializers.CharField()
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    lines = ReservationLineSerializer(many=True)

    def to_representation(self, instance: Reservation) -> dict[str, Any]:
        """What DRF makes of the fields above (tests hold the two equal), written out: this is
        the answer to every reservation, and building DRF's fields costs more than the rest
        of the request."""
        return {
            "id": str(instance.id),
            "status": instance.current_status,
            "order_ref": instance.order_ref,
            "expires_at": _datetime(instance.expires_at),
            "created_at": _datetime(instance.created_at),
            "closed_at": _datetime(instance.closed_at),
            "lines": [_line(line) for line in instance.lines.all()],
        }


def _line(line) -> dict[str, Any]:
    written = {"sku": line.product.sku, "location": line.location.code, "quantity": line.quantity}
    if line.substitute_for_id is not None:
        written["substitute_for"] = {
            "sku": line.substitute_for.sku,
            "quantity": line.substitute_for_quantity,
        }
    return written


_DATETIME = serializers.DateTimeField()


def _datetime(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


class ReturnLineRequestSerializer(RequestSerializer):
    sku = serializers.CharField(**SKU)
    location = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=50,
        help_text="Where the goods came back to. Leave out for where they were sold (when the "
        "reservation sold the SKU from one location).",
    )
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class ReturnRequestSerializer(RequestSerializer):
    lines = ReturnLineRequestSerializer(
        many=True,
        min_length=1,
        max_length=MAX_LINES,
        required=False,
        help_text="The units coming back. Leave out to cancel the whole order after commit: "
        "every unit not yet returned comes back to where it was sold.",
    )
    disposition = serializers.ChoiceField(
        choices=ReservationReturn.Disposition.choices,
        help_text="restock: back on hand, sellable again; damaged: set aside as damaged.",
    )
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Kept with the return."
    )


class ReturnableSerializer(serializers.Serializer):
    sku = serializers.CharField()
    committed = serializers.IntegerField(help_text="Units the reservation sold.")
    returned = serializers.IntegerField(help_text="Units taken back by its returns so far.")
    returnable = serializers.IntegerField(help_text="Units a return may still take back.")


class ReturnLineSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    location = serializers.CharField(source="location.code")
    quantity = serializers.IntegerField()


class ReturnSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    reservation_id = serializers.UUIDField()
    order_ref = serializers.CharField(source="reservation.order_ref")
    disposition = serializers.ChoiceField(choices=ReservationReturn.Disposition.choices)
    cancellation = serializers.BooleanField(
        help_text="True when the whole order was cancelled after commit."
    )
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    lines = ReturnLineSerializer(many=True)


class ReturnResultSerializer(ReturnSerializer):
    returnable = ReturnableSerializer(
        many=True, help_text="Per SKU of the reservation, after this return."
    )


class ReservationFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Reservation.Status.choices, required=False)
    order_ref = serializers.CharField(max_length=200, required=False)


# --- Transfers ----------------------------------------------------------------------------
class TransferLineRequestSerializer(RequestSerializer):
    sku = serializers.CharField(**SKU)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


class ShippingSerializer(RequestSerializer):
    carrier = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="Who carries it."
    )
    tracking_number = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="The carrier's number."
    )
    shipping_cost = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0"),
        required=False,
        allow_null=True,
        coerce_to_string=True,
        help_text="What the carriage cost, in the merchant's currency.",
    )


class TransferRequestSerializer(ShippingSerializer):
    source = serializers.CharField(max_length=50, help_text="Code of the shipping location.")
    destination = serializers.CharField(max_length=50, help_text="Code of the receiving location.")
    lines = TransferLineRequestSerializer(many=True, min_length=1, max_length=MAX_LINES)
    reference = serializers.CharField(**REFERENCE)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)


class TransferLineSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    quantity = serializers.IntegerField()


class TransferSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Transfer.Status.choices)
    source = serializers.CharField(source="source_location.code")
    destination = serializers.CharField(source="destination_location.code")
    reference = serializers.CharField()
    note = serializers.CharField()
    carrier = serializers.CharField()
    tracking_number = serializers.CharField()
    shipping_cost = serializers.DecimalField(
        max_digits=12, decimal_places=2, allow_null=True, coerce_to_string=True
    )
    created_at = serializers.DateTimeField()
    shipped_at = serializers.DateTimeField(allow_null=True)
    received_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    lines = TransferLineSerializer(many=True)


class TransferFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Transfer.Status.choices, required=False)
    carrier = serializers.CharField(max_length=100, required=False, help_text="Exact carrier.")
    tracking_number = serializers.CharField(
        max_length=100, required=False, help_text="Exact tracking number."
    )


# --- Ledger -------------------------------------------------------------------------------
class LedgerApiKeySerializer(serializers.Serializer):
    """The API key that made a change, as it was named then (null: not an API write)."""

    id = serializers.IntegerField(source="actor_api_key_id")
    name = serializers.CharField(source="actor_api_key_name")

    def to_representation(self, instance):
        if instance.actor_api_key_id is None:
            return None
        return super().to_representation(instance)


class LedgerEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField(source="product.sku")
    location = serializers.CharField(source="location.code")
    reason = serializers.ChoiceField(choices=LedgerEntry.Reason.choices)
    on_hand_delta = serializers.IntegerField()
    reserved_delta = serializers.IntegerField()
    damaged_delta = serializers.IntegerField()
    in_transit_delta = serializers.IntegerField()
    on_hand_after = serializers.IntegerField()
    reserved_after = serializers.IntegerField()
    damaged_after = serializers.IntegerField()
    in_transit_after = serializers.IntegerField()
    safety_stock_after = serializers.IntegerField()
    version_after = serializers.IntegerField()
    source = serializers.CharField()
    actor = serializers.CharField(
        source="actor.username",
        allow_null=True,
        default=None,
        help_text="The signed-in user who made the change (null for API keys and the system).",
    )
    api_key = LedgerApiKeySerializer(source="*", allow_null=True, read_only=True)
    reference = serializers.CharField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField(help_text="When the change was recorded.")
    occurred_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When it took effect, when that was before it was recorded (a late feed "
        "event, e.g. a count as of that moment); null: at created_at.",
    )


class LedgerFilterSerializer(serializers.Serializer):
    sku = serializers.CharField(required=False, **SKU)
    location = serializers.CharField(required=False, **LOCATION)
    reason = serializers.ChoiceField(choices=LedgerEntry.Reason.choices, required=False)
    since = serializers.DateTimeField(required=False, help_text="From this time (inclusive).")
    until = serializers.DateTimeField(required=False, help_text="Before this time (exclusive).")
    reference = serializers.CharField(
        max_length=200,
        required=False,
        help_text="A reference as sent (PO-1002), a transfer's reference (TR-1) or a "
        "reservation id; the stored `transfer:TR-1` / `reservation:<id>` forms match too.",
    )

    def validate(self, attrs):
        if "since" in attrs and "until" in attrs and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": ["Must not be before `since`."]})
        return attrs
