"""Warehouses as the specification's calls name them: `warehouses/` and
`warehouses/{warehouseId}/` over the locations of kind warehouse, through the location
services (same rules: codes unique per merchant, no deletion of a location with stock or
history)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps.api.idempotency import plain_write
from apps.api.schema import OPTIONAL_IDEMPOTENCY_PARAMETER
from apps.api.serializers import NoBodySerializer
from apps.api.tenancy import require_all_locations
from apps.api.views import MerchantAPIView
from apps.locations import selectors, services
from apps.locations.api.serializers import (
    WarehouseFilterSerializer,
    WarehouseListItemSerializer,
    WarehouseSerializer,
)
from apps.locations.models import Location

WAREHOUSE = Location.Kind.WAREHOUSE
TAGS = ["warehouses"]


class WarehouseListView(MerchantAPIView):
    @extend_schema(
        operation_id="warehouses_list",
        parameters=[WarehouseFilterSerializer],
        responses=WarehouseListItemSerializer(many=True),
        tags=TAGS,
    )
    def get(self, request):
        filters = self.query(WarehouseFilterSerializer)
        warehouses = selectors.location_list(merchant=request.merchant, kind=WAREHOUSE, **filters)
        return self.paginated(warehouses, WarehouseListItemSerializer)

    @extend_schema(
        operation_id="warehouses_create",
        request=WarehouseSerializer,
        responses={201: WarehouseSerializer},
        parameters=[OPTIONAL_IDEMPOTENCY_PARAMETER],
        tags=TAGS,
        description="A new location of kind warehouse; its `warehouseId` (location code) is "
        "made from the name. Send an Idempotency-Key so that a retry cannot create a second one.",
    )
    def post(self, request):
        def perform() -> Response:
            fields = self.body(WarehouseSerializer)
            warehouse = services.location_create(
                merchant=request.merchant, kind=WAREHOUSE, **fields
            )
            return Response(WarehouseSerializer(warehouse).data, status=status.HTTP_201_CREATED)

        require_all_locations(request, "create warehouses")
        return plain_write(request, "POST warehouses", perform)


class WarehouseDetailView(MerchantAPIView):
    def warehouse(self, warehouse_id: str) -> Location:
        return selectors.location_get(
            merchant=self.request.merchant, code=warehouse_id, kind=WAREHOUSE
        )

    @extend_schema(operation_id="warehouses_retrieve", responses=WarehouseSerializer, tags=TAGS)
    def get(self, request, warehouse_id: str):
        return Response(WarehouseSerializer(self.warehouse(warehouse_id)).data)

    @extend_schema(
        operation_id="warehouses_update",
        request=WarehouseSerializer(partial=True),
        responses=WarehouseSerializer,
        parameters=[OPTIONAL_IDEMPOTENCY_PARAMETER],
        tags=TAGS,
        description="Change the name, the address (`location`) or the status; fields left out "
        "stay as they are. The warehouseId never changes.",
    )
    def put(self, request, warehouse_id: str):
        def perform() -> Response:
            warehouse = self.warehouse(warehouse_id)
            fields = self.body(WarehouseSerializer, partial=True)
            warehouse = services.location_update(location=warehouse, **fields)
            return Response(WarehouseSerializer(warehouse).data)

        require_all_locations(request, "change warehouses")
        return plain_write(request, "PUT warehouses", perform)

    @extend_schema(
        operation_id="warehouses_destroy",
        responses={204: None},
        parameters=[OPTIONAL_IDEMPOTENCY_PARAMETER],
        tags=TAGS,
        description="Refused with 409 while the warehouse holds stock, active reservations, "
        "open transfers or stock history: set `status` to `inactive` instead.",
    )
    def delete(self, request, warehouse_id: str):
        def perform() -> Response:
            self.body(NoBodySerializer)
            services.location_delete(location=self.warehouse(warehouse_id))
            return Response(status=status.HTTP_204_NO_CONTENT)

        require_all_locations(request, "delete warehouses")
        return plain_write(request, "DELETE warehouses", perform)
