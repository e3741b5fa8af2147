"""The specification's inventory calls, literally: `inventory/...` and `warehouses/transfer`.

Thin views over the stock services and selectors the rest of the API uses (no rule of their
own): a new record is a receipt, `PUT` a count, `adjust` a receipt, return, damage or
adjustment by its reason, a transfer `transfer_move`, `bulk-update` the bulk counts, and the
reads are the stock levels and availability. Same rules as every stock write: API key,
`Idempotency-Key` required, problem+json refusals with the figures, another merchant's ids
unknown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from apps.api.idempotency import stock_write
from apps.api.schema import IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER, PATH_EXAMPLES
from apps.api.serializers import NoBodySerializer, unknown_field_message
from apps.api.tenancy import require_locations
from apps.api.views import MerchantAPIView
from apps.catalog.models import Product
from apps.catalog.selectors import products_by_sku
from apps.feeds.services.bulk import COUNT, BulkLine, UnknownLine, bulk_stock_apply
from apps.inventory import availability_cache, selectors, services
from apps.inventory.api import record_serializers as s
from apps.inventory.api.lines import etag, if_match_version
from apps.inventory.models import MAX_QUANTITY, LedgerEntry, Source, StockLevel, Transfer
from apps.locations.models import Location
from apps.locations.selectors import location_get, locations_by_code

TAGS = ["inventory"]
SKU, LOCATION = PATH_EXAMPLES["sku"], PATH_EXAMPLES["location"]


def resolve_ids(
    request, *, product_id: str, **location_ids: str
) -> tuple[Product, dict[str, Location]]:
    """The product and the locations a body names (field name -> code), scoped to the
    request's merchant, or a 400 naming each unknown one."""
    products = products_by_sku(merchant=request.merchant, skus=[product_id])
    locations = locations_by_code(merchant=request.merchant, codes=location_ids.values())
    errors = {}
    if product_id not in products:
        errors["productId"] = [f"Unknown product {product_id}."]
    for name, code in location_ids.items():
        if code not in locations:
            errors[name] = [f"Unknown warehouse {code}."]
    if errors:
        raise exceptions.ValidationError(errors)
    return products[product_id], {name: locations[code] for name, code in location_ids.items()}


def change_answer(request, entry: LedgerEntry, status_code: int = status.HTTP_200_OK) -> Response:
    """The record after a one-line change, with the change (its ledger row)."""
    level = selectors.inventory_record_get(
        merchant=request.merchant, stock_level_id=entry.stock_level_id
    )
    level.ledger_entry = entry
    return Response(
        s.InventoryChangeSerializer(level).data,
        status=status_code,
        headers={"ETag": etag(level.version)},
    )


class InventoryCreateView(MerchantAPIView):
    @extend_schema(
        operation_id="inventory_create",
        request=s.InventoryCreateRequestSerializer,
        responses={201: s.InventoryChangeSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        tags=TAGS,
        examples=[
            OpenApiExample(
                "Receive 20",
                request_only=True,
                value={"productId": SKU, "warehouseId": LOCATION, "quantity": 20},
            )
        ],
        description="Units arrive at a location (a receipt): the record of the product there is "
        "created when it has none, and its `inventoryId` returned.",
    )
    def post(self, request):
        def perform(key: str) -> tuple[Response, bool]:
            data = self.body(s.InventoryCreateRequestSerializer)
            product, places = resolve_ids(
                request, product_id=data["productId"], warehouseId=data["warehouseId"]
            )
            require_locations(request, places.values())
            result = services.stock_receive(
                merchant=request.merchant,
                lines=[services.StockLine(product, places["warehouseId"], data["quantity"])],
                actor=request.actor,
                idempotency_key=key,
                source=Source.API,
                reference=data.get("reference", ""),
            )
            [entry] = result.entries
            return change_answer(request, entry, status.HTTP_201_CREATED), result.replayed

        return stock_write(request, perform)


class InventoryDetailView(MerchantAPIView):
    def record(self, inventory_id: int) -> StockLevel:
        return selectors.inventory_record_get(
            merchant=self.request.merchant, stock_level_id=inventory_id
        )

    @extend_schema(
        operation_id="inventory_retrieve",
        responses=s.InventoryRecordResultSerializer,
        tags=TAGS,
        description='The record with `ETag: "<version>"` (send it as If-Match on a PUT).',
    )
    def get(self, request, inventory_id: int):
        level = self.record(inventory_id)
        return Response(
            s.InventoryRecordResultSerializer(level).data, headers={"ETag": etag(level.version)}
        )

    @extend_schema(
        operation_id="inventory_update",
        request=s.InventoryCountRequestSerializer,
        responses=s.InventoryChangeSerializer,
        parameters=[IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER],
        tags=TAGS,
        description="A count: on hand becomes `quantity`, and the ledger keeps the variance "
        "(`quantityChange`). A count below the reserved units is refused (409).",
    )
    def put(self, request, inventory_id: int):
        def perform(key: str) -> tuple[Response, bool]:
            level = self.record(inventory_id)
            require_locations(request, [level.location])
            data = self.body(s.InventoryCountRequestSerializer)
            line = services.StockLine(
                level.product,
                level.location,
                data["quantity"],
                expected_version=if_match_version(request),
            )
            result = services.stock_count(
                merchant=request.merchant,
                lines=[line],
                actor=request.actor,
                idempotency_key=key,
                source=Source.API,
                reference=data.get("reference", ""),
            )
            [entry] = result.entries
            return change_answer(request, entry), result.replayed

        return stock_write(request, perform)

    @extend_schema(
        operation_id="inventory_destroy",
        responses={204: None},
        parameters=[IDEMPOTENCY_PARAMETER],
        tags=TAGS,
        description="Remove an empty record: it no longer lists among the location's records "
        "(its ledger, the history, stays; its settings go back to their defaults). Refused with "
        "409 `stock_remains` and the figures while it holds units on hand, reserved, damaged or "
        "in transit. A later receipt at that location brings the record back, same inventoryId.",
    )
    def delete(self, request, inventory_id: int):
        def perform(key: str) -> tuple[Response, bool]:
            self.body(NoBodySerializer)
            require_locations(request, [self.record(inventory_id).location])
            result = services.stock_level_remove(
                merchant=request.merchant,
                stock_level_id=inventory_id,
                actor=request.actor,
                idempotency_key=key,
                source=Source.API,
            )
            return Response(status=status.HTTP_204_NO_CONTENT), result.replayed

        return stock_write(request, perform)


class ProductStockView(MerchantAPIView):
    @extend_schema(
        operation_id="inventory_overall",
        responses=s.ProductStockSerializer,
        tags=TAGS,
        description="One product over every location: `totalQuantity` (on hand), the on hand, "
        "reserved, available, damaged and in-transit totals, and the record at each location.",
    )
    def get(self, request, product_id: str):
        overall = selectors.product_stock(merchant=request.merchant, sku=product_id)
        return Response(s.ProductStockSerializer(overall).data)


class InventoryCheckView(MerchantAPIView):
    @extend_schema(
        operation_id="inventory_check",
        parameters=[s.InventoryCheckQuerySerializer],
        responses=s.InventoryCheckSerializer,
        tags=TAGS,
        description="Whether `quantity` units of the SKU can be reserved now "
        "(`isAvailable`), how many can (`availableQuantity`, over active locations), and the "
        "figures per location: the same answer as `availability/{sku}/`.",
    )
    def get(self, request):
        query = self.query(s.InventoryCheckQuerySerializer)
        result = availability_cache.availability(
            merchant=request.merchant, sku=query["sku"], quantity=query["quantity"]
        )
        return Response(s.InventoryCheckSerializer(result).data)


# The stock service behind each reason of `inventory/adjust`, called with the units moved (> 0).
def _restock(line: services.StockLine, note: str, **common) -> services.StockChangeResult:
    return services.stock_receive(lines=[line], note=note, **common)


def _return(line: services.StockLine, note: str, **common) -> services.StockChangeResult:
    return services.stock_return(lines=[line], note=note, restock=True, **common)


def _damage(line: services.StockLine, note: str, **common) -> services.StockChangeResult:
    return services.stock_damage(lines=[line], note=note, **common)


def _correct(line: services.StockLine, note: str, **common) -> services.StockChangeResult:
    why = f"Correction: {note}" if note else "Correction"
    return services.stock_adjust(lines=[line], reason=why, **common)


ADJUSTMENTS: dict[str, Callable[..., services.StockChangeResult]] = {
    "restock": _restock, "return": _return, "damage": _damage, "correction": _correct,
}  # fmt: skip


class InventoryAdjustView(MerchantAPIView):
    @extend_schema(
        operation_id="inventory_adjust",
        request=s.InventoryAdjustRequestSerializer,
        responses=s.InventoryChangeSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        tags=TAGS,
        examples=[
            OpenApiExample(
                "Two units damaged",
                request_only=True,
                value={
                    "productId": SKU,
                    "warehouseId": LOCATION,
                    "quantityChange": -2,
                    "reason": "damage",
                },
            )
        ],
        description="Change on hand by a signed `quantityChange`, for a `reason`: restock (a "
        "receipt), return (sold units back to stock), damage (units moved from on hand to "
        "damaged) or correction (an adjustment). The ledger row carries the matching reason.",
    )
    def post(self, request):
        def perform(key: str) -> tuple[Response, bool]:
            data = self.body(s.InventoryAdjustRequestSerializer)
            product, places = resolve_ids(
                request, product_id=data["productId"], warehouseId=data["warehouseId"]
            )
            require_locations(request, places.values())
            change = data["quantityChange"]
            # Damage is sent as the change of on hand (< 0); its service takes the units moved.
            units = -change if data["reason"] == "damage" else change
            result = ADJUSTMENTS[data["reason"]](
                services.StockLine(product, places["warehouseId"], units),
                data.get("note", ""),
                merchant=request.merchant,
                actor=request.actor,
                idempotency_key=key,
                source=Source.API,
                reference=data.get("reference", ""),
            )
            [entry] = result.entries
            return change_answer(request, entry), result.replayed

        return stock_write(request, perform)


class WarehouseStockView(MerchantAPIView):
    @extend_schema(
        operation_id="inventory_warehouse_stock",
        responses=s.InventoryRecordSerializer(many=True),
        tags=TAGS,
        description="The records at one location, by SKU.",
    )
    def get(self, request, warehouse_id: str):
        location = location_get(merchant=request.merchant, code=warehouse_id)
        records = selectors.inventory_record_list(merchant=request.merchant, location=location.code)
        return self.paginated(records, s.InventoryRecordSerializer)


class LowStockView(MerchantAPIView):
    @extend_schema(
        operation_id="inventory_low_stock",
        parameters=[s.LowStockQuerySerializer],
        responses=s.InventoryRecordSerializer(many=True),
        tags=TAGS,
        description="Records that are low: a low-stock threshold above 0 and available at or "
        "below it (the one rule of `stock/?low_stock=true`, the alerts and the reports).",
    )
    def get(self, request):
        query = self.query(s.LowStockQuerySerializer)
        records = selectors.inventory_record_list(
            merchant=request.merchant, location=query.get("warehouseId", ""), low_stock=True
        )
        return self.paginated(records, s.InventoryRecordSerializer)


@dataclass
class Moved:
    transfer: Transfer
    product: Product
    quantity: int
    source_level: StockLevel
    destination_level: StockLevel


class WarehouseTransferView(MerchantAPIView):
    @extend_schema(
        operation_id="warehouses_transfer",
        request=s.WarehouseTransferRequestSerializer,
        responses={201: s.TransferResultSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        tags=TAGS,
        examples=[
            OpenApiExample(
                "Restock a store",
                request_only=True,
                value={
                    "productId": SKU,
                    "fromWarehouseId": LOCATION,
                    "toWarehouseId": "empty-store",
                    "quantity": 3,
                },
            )
        ],
        description="Move units between two locations in one call: a transfer is created and "
        "shipped (the units leave the source's on hand, unreserved units only) and, by default, "
        "received at once. With `receive: false` they stay in transit at the destination until "
        "`POST transfers/{transferId}/receive/`. All or nothing: 409 with the figures when the "
        "source is short.",
    )
    def post(self, request):
        def perform(key: str) -> tuple[Response, bool]:
            data = self.body(s.WarehouseTransferRequestSerializer)
            product, places = resolve_ids(
                request,
                product_id=data["productId"],
                fromWarehouseId=data["fromWarehouseId"],
                toWarehouseId=data["toWarehouseId"],
            )
            source, destination = places["fromWarehouseId"], places["toWarehouseId"]
            require_locations(request, [source, destination] if data["receive"] else [source])
            transfer, replayed = services.transfer_move(
                merchant=request.merchant,
                source_location=source,
                destination_location=destination,
                lines=[services.TransferLineRequest(product, data["quantity"])],
                actor=request.actor,
                idempotency_key=key,
                receive=data["receive"],
                source=Source.API,
                reference=data.get("reference", ""),
                note=data.get("note", ""),
            )
            moved = Moved(
                transfer=transfer,
                product=product,
                quantity=data["quantity"],
                source_level=self._level(product, source),
                destination_level=self._level(product, destination),
            )
            body = s.TransferResultSerializer(moved).data
            return Response(body, status=status.HTTP_201_CREATED), replayed

        return stock_write(request, perform)

    def _level(self, product: Product, location: Location) -> StockLevel:
        return selectors.stock_level_get(
            merchant=self.request.merchant, sku=product.sku, location=location.code
        )


BULK_FIELDS = ("productId", "warehouseId", "quantity")


def parse_updates(raw: list[dict]) -> list[dict[str, Any]]:
    """Validate up to 10,000 updates without a serializer per line (that would cost seconds).
    Errors name each field: `updates.12.quantity`."""
    errors: dict[str, list[str]] = {}
    updates = []
    for index, update in enumerate(raw):
        at = f"updates.{index}"
        for name in sorted(update.keys() - set(BULK_FIELDS)):
            errors[f"{at}.{name}"] = [unknown_field_message(name, BULK_FIELDS)]
        sku, code, quantity = (update.get(name) for name in BULK_FIELDS)
        if not isinstance(sku, str) or not 0 < len(sku.strip()) <= 64 or "\x00" in sku:
            errors[f"{at}.productId"] = ["A product id (its SKU, 1 to 64 characters)."]
        if not isinstance(code, str) or not 0 < len(code.strip()) <= 50 or "\x00" in code:
            errors[f"{at}.warehouseId"] = ["A warehouse id (its code, 1 to 50 characters)."]
        if (
            not isinstance(quantity, int)
            or isinstance(quantity, bool)
            or not 0 <= quantity <= MAX_QUANTITY
        ):
            errors[f"{at}.quantity"] = ["A whole number of units, 0 or more."]
        if not errors:
            updates.append({"sku": sku.strip(), "location": code.strip(), "quantity": quantity})
    if errors:
        raise exceptions.ValidationError(errors)
    return updates


class BulkUpdateView(MerchantAPIView):
    @extend_schema(
        operation_id="inventory_bulk_update",
        request=s.BulkUpdateRequestDocSerializer,
        responses={200: s.BulkUpdateResultSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        tags=TAGS,
        examples=[
            OpenApiExample(
                "Two counts",
                request_only=True,
                value={
                    "updates": [
                        {"productId": SKU, "warehouseId": LOCATION, "quantity": 40},
                        {"productId": SKU, "warehouseId": "empty-store", "quantity": 0},
                    ]
                },
            )
        ],
        description="Set the quantity of up to 10,000 records in one call (counts: on hand "
        "becomes `quantity`, the ledger keeps each variance), applied set-based as "
        "`bulk/stock/` does. `atomic: true` (default) applies all or none; `atomic: false` "
        "gives each update an outcome (an unknown product or warehouse, or a count below the "
        "reserved units, is rejected with why) and applies the others.",
    )
    def post(self, request):
        def perform(key: str) -> tuple[Response, bool]:
            data = self.body(s.BulkUpdateRequestSerializer)
            updates = parse_updates(data["updates"])
            products = products_by_sku(merchant=request.merchant, skus=[u["sku"] for u in updates])
            locations = locations_by_code(
                merchant=request.merchant, codes=[u["location"] for u in updates]
            )
            unknown = {
                index: {
                    name: f"Unknown {label} {update[key_]}."
                    for name, label, key_, known in (
                        ("productId", "product", "sku", products),
                        ("warehouseId", "warehouse", "location", locations),
                    )
                    if update[key_] not in known
                }
                for index, update in enumerate(updates)
            }
            unknown = {index: fields for index, fields in unknown.items() if fields}
            if unknown and data["atomic"]:
                raise exceptions.ValidationError(
                    {
                        f"updates.{index}.{name}": [message]
                        for index, fields in unknown.items()
                        for name, message in fields.items()
                    }
                )
            known = [(i, u) for i, u in enumerate(updates) if i not in unknown]
            require_locations(request, [locations[u["location"]] for _, u in known])
            result = bulk_stock_apply(
                merchant=request.merchant,
                mode=COUNT,
                atomic=data["atomic"],
                lines=[
                    BulkLine(
                        index=i,
                        product=products[u["sku"]],
                        location=locations[u["location"]],
                        quantity=u["quantity"],
                    )
                    for i, u in known
                ],
                unknown=[
                    UnknownLine(
                        index=i,
                        sku=updates[i]["sku"],
                        location=updates[i]["location"],
                        detail=" ".join(unknown[i].values()),
                    )
                    for i in sorted(unknown)
                ],
                actor=request.actor,
                idempotency_key=key,
                reference=data.get("reference", ""),
                source=Source.API,
            )
            body = {
                "success": result.rejected == 0,
                "atomic": result.atomic,
                "applied": result.applied,
                "rejected": result.rejected,
                "ledgerIds": result.ledger_ids,
                "results": [
                    {
                        "index": line.index,
                        "productId": line.sku,
                        "warehouseId": line.location,
                        "status": line.status,
                        "code": line.code,
                        "detail": line.detail,
                        "ledgerId": line.ledger_id,
                        "quantity": line.on_hand,
                        "version": line.version,
                    }
                    for line in result.lines
                ],
            }
            return Response(body), result.replayed

        return stock_write(request, perform)
