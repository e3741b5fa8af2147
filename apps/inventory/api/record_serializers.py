"""Request and response shapes of the inventory calls as the specification names them: its
field names as written (camelCase), over the same stock levels, figures and services as the
rest of the API. An inventory record is one stock level: a product at a location.

Identifiers: `productId` is the product's SKU, `warehouseId` a location's code (the calls take
any location; `warehouses/` lists those of kind warehouse), `inventoryId` the stock level's id.
"""

from __future__ import annotations

from rest_framework import serializers

from apps.api.serializers import RequestSerializer, Succeeded
from apps.inventory.models import MAX_QUANTITY
from apps.inventory.services.lines import MAX_LINES
from apps.locations.models import Location

PRODUCT_ID = {"max_length": 64, "help_text": "The product's SKU."}
WAREHOUSE_ID = {"max_length": 50, "help_text": "The location's code (e.g. a warehouse)."}
REFERENCE = {
    "max_length": 200,
    "required": False,
    "allow_blank": True,
    "help_text": "Your document number (PO, order, count sheet), kept in the ledger.",
}
NOTE = {
    "max_length": 500,
    "required": False,
    "allow_blank": True,
    "help_text": "Kept in the ledger.",
}


# --- Records --------------------------------------------------------------------------------
class InventoryRecordSerializer(serializers.Serializer):
    """One stock level, figures as in `stock/` (one vocabulary: see docs/stock-model.md)."""

    inventoryId = serializers.IntegerField(source="pk", help_text="The stock level's id.")
    productId = serializers.CharField(source="product.sku")
    warehouseId = serializers.CharField(source="location.code")
    quantity = serializers.IntegerField(
        source="on_hand", help_text="Units on hand: sellable units physically there."
    )
    reserved = serializers.IntegerField(source="held", help_text="Units held by reservations.")
    available = serializers.IntegerField(
        help_text="What can be reserved or sold: quantity - reserved - safetyStock, never below 0."
    )
    safetyStock = serializers.IntegerField(source="safety_stock")
    damaged = serializers.IntegerField()
    inTransit = serializers.IntegerField(
        source="in_transit", help_text="Units shipped here by a transfer, not received yet."
    )
    lowStockThreshold = serializers.IntegerField(source="low_stock_threshold")
    lowStock = serializers.BooleanField(
        source="is_low", help_text="A threshold above 0 and available at or below it."
    )
    version = serializers.IntegerField(help_text="Bumped by every change; also the ETag.")
    updatedAt = serializers.DateTimeField(source="updated_at", allow_null=True)


class InventoryRecordResultSerializer(Succeeded, InventoryRecordSerializer):
    """One stock level, figures as in `stock/`, as the answer to a call."""


class InventoryChangeSerializer(InventoryRecordResultSerializer):
    """The record after a change, with the change itself."""

    ledgerId = serializers.IntegerField(
        source="ledger_entry.pk", help_text="The ledger row of this change."
    )
    quantityChange = serializers.IntegerField(
        source="ledger_entry.on_hand_delta",
        help_text="How on hand changed (for a count: the variance, counted - before).",
    )


# --- Requests -------------------------------------------------------------------------------
class InventoryCreateRequestSerializer(RequestSerializer):
    productId = serializers.CharField(**PRODUCT_ID)
    warehouseId = serializers.CharField(**WAREHOUSE_ID)
    quantity = serializers.IntegerField(
        min_value=1, max_value=MAX_QUANTITY, help_text="Units received (added to on hand)."
    )
    reference = serializers.CharField(**REFERENCE)


class InventoryCountRequestSerializer(RequestSerializer):
    quantity = serializers.IntegerField(
        min_value=0,
        max_value=MAX_QUANTITY,
        help_text="The counted quantity: on hand becomes it; the ledger keeps the variance.",
    )
    reference = serializers.CharField(**REFERENCE)


ADJUST_REASONS = ("restock", "damage", "return", "correction")


class InventoryAdjustRequestSerializer(RequestSerializer):
    productId = serializers.CharField(**PRODUCT_ID)
    warehouseId = serializers.CharField(**WAREHOUSE_ID)
    quantityChange = serializers.IntegerField(
        min_value=-MAX_QUANTITY, max_value=MAX_QUANTITY, help_text="Signed change of on hand."
    )
    reason = serializers.ChoiceField(
        choices=ADJUST_REASONS,
        help_text="restock: units arrive (a receipt, > 0); return: sold units come back to "
        "stock (> 0); damage: units leave on hand for damaged (< 0); correction: on hand "
        "corrected either way (an adjustment).",
    )
    note = serializers.CharField(**NOTE)
    reference = serializers.CharField(**REFERENCE)

    def validate(self, attrs):
        change, reason = attrs["quantityChange"], attrs["reason"]
        if change == 0:
            raise serializers.ValidationError({"quantityChange": ["Must not be zero."]})
        if reason in ("restock", "return") and change < 0:
            raise serializers.ValidationError(
                {"quantityChange": [f"A {reason} adds units: send a positive quantityChange."]}
            )
        if reason == "damage" and change > 0:
            raise serializers.ValidationError(
                {
                    "quantityChange": [
                        "Damage takes units out of on hand: send a negative quantityChange "
                        "(e.g. -2 for two damaged units)."
                    ]
                }
            )
        return attrs


class InventoryCheckQuerySerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64, help_text="The product's SKU (its productId).")
    quantity = serializers.IntegerField(
        min_value=1, max_value=MAX_QUANTITY, default=1, help_text="Units wanted."
    )


class LowStockQuerySerializer(serializers.Serializer):
    warehouseId = serializers.CharField(
        required=False, max_length=50, help_text="Only this location's records."
    )


class WarehouseTransferRequestSerializer(RequestSerializer):
    productId = serializers.CharField(**PRODUCT_ID)
    fromWarehouseId = serializers.CharField(**WAREHOUSE_ID)
    toWarehouseId = serializers.CharField(**WAREHOUSE_ID)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    receive = serializers.BooleanField(
        default=True,
        help_text="true (default): the units arrive at once. false: they stay in transit at the "
        "destination until `POST transfers/{transferId}/receive/`.",
    )
    reference = serializers.CharField(**REFERENCE)
    note = serializers.CharField(**NOTE)

    def validate(self, attrs):
        if attrs["fromWarehouseId"] == attrs["toWarehouseId"]:
            raise serializers.ValidationError(
                {"toWarehouseId": ["Must be another location than fromWarehouseId."]}
            )
        return attrs


class BulkUpdateLineSerializer(RequestSerializer):
    """Documentation of an update; bulk bodies are validated by a fast path (see the view)."""

    productId = serializers.CharField(**PRODUCT_ID)
    warehouseId = serializers.CharField(**WAREHOUSE_ID)
    quantity = serializers.IntegerField(
        min_value=0, max_value=MAX_QUANTITY, help_text="The counted quantity: on hand becomes it."
    )


class BulkUpdateRequestSerializer(RequestSerializer):
    updates = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=MAX_LINES,
        help_text="BulkUpdateLine objects.",
    )
    atomic = serializers.BooleanField(
        default=True,
        help_text="true: every update or none (400 for an unknown product or warehouse, 409 "
        "on the first refusal). false: each update gets an outcome; the others are applied.",
    )
    reference = serializers.CharField(**REFERENCE)


class BulkUpdateRequestDocSerializer(BulkUpdateRequestSerializer):
    updates = BulkUpdateLineSerializer(many=True, min_length=1, max_length=MAX_LINES)

    class Meta:
        ref_name = "BulkUpdateRequest"


# --- Answers --------------------------------------------------------------------------------
class ProductStockSerializer(Succeeded):
    """One product over every location: totals and the record at each location."""

    productId = serializers.CharField(source="product.sku")
    name = serializers.CharField(source="product.name")
    totalQuantity = serializers.IntegerField(
        source="on_hand", help_text="Units on hand across all locations."
    )
    onHand = serializers.IntegerField(source="on_hand")
    reserved = serializers.IntegerField()
    available = serializers.IntegerField()
    damaged = serializers.IntegerField()
    inTransit = serializers.IntegerField(source="in_transit")
    warehouses = InventoryRecordSerializer(
        source="levels", many=True, help_text="The records per location."
    )


class WarehouseAvailabilitySerializer(serializers.Serializer):
    warehouseId = serializers.CharField(source="location")
    status = serializers.ChoiceField(choices=Location.Status.choices)
    takesReservations = serializers.BooleanField(source="takes_reservations")
    onHand = serializers.IntegerField(source="on_hand")
    reserved = serializers.IntegerField()
    safetyStock = serializers.IntegerField(source="safety_stock")
    available = serializers.IntegerField(help_text="0 where the location takes no reservations.")


class InventoryCheckSerializer(Succeeded):
    """Whether a quantity can be reserved now, in total and per location."""

    productId = serializers.CharField(source="sku")
    sku = serializers.CharField()
    quantity = serializers.IntegerField(source="requested", help_text="Units asked for.")
    isAvailable = serializers.BooleanField(
        source="can_serve", help_text="Whether `quantity` units can be reserved now."
    )
    availableQuantity = serializers.IntegerField(
        source="available", help_text="Units that can be reserved now, over active locations."
    )
    availableFromOneWarehouse = serializers.BooleanField(source="can_serve_from_one_location")
    active = serializers.BooleanField(help_text="An inactive product can serve nothing.")
    warehouses = WarehouseAvailabilitySerializer(source="locations", many=True)


class TransferResultSerializer(Succeeded):
    """A transfer made in one call, and the records at both ends after it."""

    transferId = serializers.UUIDField(source="transfer.pk")
    status = serializers.CharField(
        source="transfer.status", help_text="received, or in_transit (receive: false)."
    )
    productId = serializers.CharField(source="product.sku")
    fromWarehouseId = serializers.CharField(source="transfer.source_location.code")
    toWarehouseId = serializers.CharField(source="transfer.destination_location.code")
    quantity = serializers.IntegerField()
    reference = serializers.CharField(source="transfer.reference")
    shippedAt = serializers.DateTimeField(source="transfer.shipped_at")
    receivedAt = serializers.DateTimeField(source="transfer.received_at", allow_null=True)
    fromInventory = InventoryRecordSerializer(source="source_level")
    toInventory = InventoryRecordSerializer(source="destination_level")


class BulkUpdateOutcomeSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    productId = serializers.CharField()
    warehouseId = serializers.CharField()
    status = serializers.ChoiceField(choices=["applied", "rejected"])
    code = serializers.CharField(help_text="Why it was rejected (empty when applied).")
    detail = serializers.CharField()
    ledgerId = serializers.IntegerField(allow_null=True)
    quantity = serializers.IntegerField(allow_null=True, help_text="On hand after the update.")
    version = serializers.IntegerField(allow_null=True)


class BulkUpdateResultSerializer(serializers.Serializer):
    success = serializers.BooleanField(help_text="true when every update was applied.")
    atomic = serializers.BooleanField()
    applied = serializers.IntegerField()
    rejected = serializers.IntegerField()
    ledgerIds = serializers.ListField(child=serializers.IntegerField())
    results = BulkUpdateOutcomeSerializer(many=True)
