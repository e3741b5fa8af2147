"""The reports' rows over the API (JSON and CSV, one field per column) and their parameters."""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from rest_framework import serializers

MONEY = {"max_digits": 18, "decimal_places": 2}


# --- Parameters -----------------------------------------------------------------------------
class ReportQuerySerializer(serializers.Serializer):
    location = serializers.CharField(
        required=False, max_length=50, help_text="Only this location (its code)."
    )
    format = serializers.ChoiceField(
        choices=["json", "csv"],
        required=False,
        help_text="csv: the rows as a CSV download (or send `Accept: text/csv`).",
    )


class ListQuerySerializer(ReportQuerySerializer):
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=50)


class DaysQuerySerializer(ReportQuerySerializer):
    days = serializers.IntegerField(
        min_value=1, max_value=366, default=30, help_text="The last this many days (UTC)."
    )


class TopMoversQuerySerializer(DaysQuerySerializer):
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=10)


class ExpiringQuerySerializer(ListQuerySerializer):
    within_minutes = serializers.IntegerField(
        min_value=1, max_value=7 * 24 * 60, default=60, help_text="Expiring within this time."
    )


class AsOfQuerySerializer(ReportQuerySerializer):
    date = serializers.DateField(help_text="The day whose closing stock to show (UTC).")

    def validate_date(self, day: date) -> date:
        if day > timezone.now().date():
            raise serializers.ValidationError("Pick today or a past day.")
        return day


# --- Rows -----------------------------------------------------------------------------------
class LocationTotalsSerializer(serializers.Serializer):
    skus = serializers.IntegerField(help_text="Stock levels (SKUs) at the location.")
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()
    damaged = serializers.IntegerField()
    in_transit = serializers.IntegerField()
    value = serializers.DecimalField(**MONEY, help_text="On hand x price.")


class LocationRowSerializer(serializers.Serializer):
    location = serializers.CharField(source="location__code")
    location_name = serializers.CharField(source="location__name")


class StockByLocationRowSerializer(LocationRowSerializer, LocationTotalsSerializer):
    low = serializers.IntegerField(help_text="Levels low (some available, at or below threshold).")
    out = serializers.IntegerField(help_text="Levels with nothing available.")


class LevelRowSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product__sku")
    product_name = serializers.CharField(source="product__name")
    location = serializers.CharField(source="location__code")
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    safety_stock = serializers.IntegerField()


class LowStockRowSerializer(LevelRowSerializer):
    available = serializers.IntegerField(source="available_units")
    low_stock_threshold = serializers.IntegerField()


class OutOfStockRowSerializer(LevelRowSerializer):
    updated_at = serializers.DateTimeField(help_text="Its last change.")


class MovementsRowSerializer(serializers.Serializer):
    day = serializers.DateField()
    movements = serializers.IntegerField(help_text="Ledger rows that changed on hand.")
    units_in = serializers.IntegerField()
    units_out = serializers.IntegerField()


class TopMoverRowSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product__sku")
    product_name = serializers.CharField(source="product__name")
    units_sold = serializers.IntegerField(
        source="units", help_text="Direct sales and committed reservations."
    )
    movements = serializers.IntegerField()


class ExpiringRowSerializer(serializers.Serializer):
    reservation_id = serializers.UUIDField(source="id")
    order_ref = serializers.CharField()
    units = serializers.IntegerField()
    expires_at = serializers.DateTimeField()


class InTransitRowSerializer(serializers.Serializer):
    transfer_id = serializers.UUIDField(source="id")
    reference = serializers.CharField()
    source = serializers.CharField(source="source_location__code")
    destination = serializers.CharField(source="destination_location__code")
    lines = serializers.IntegerField(source="lines_count")
    units = serializers.IntegerField()
    shipped_at = serializers.DateTimeField()


class AsOfRowSerializer(LocationRowSerializer, LocationTotalsSerializer):
    pass
