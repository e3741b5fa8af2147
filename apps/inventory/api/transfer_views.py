"""Transfers: create, ship, receive and cancel."""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from apps.api.idempotency import (
    stock_write,
)
from apps.api.schema import IDEMPOTENCY_PARAMETER
from apps.api.serializers import NoBodySerializer
from apps.api.tenancy import require_locations
from apps.api.views import MerchantAPIView
from apps.inventory import selectors, services
from apps.inventory.api import serializers as s
from apps.inventory.api.lines import resolve
from apps.inventory.api.order_views import LOCATION, SKU, action_view
from apps.inventory.models import Source, Transfer


# --- Transfers ----------------------------------------------------------------------------
class TransferListView(MerchantAPIView):
    @extend_schema(
        operation_id="transfers_list",
        parameters=[s.TransferFilterSerializer],
        responses=s.TransferSerializer(many=True),
        tags=["transfers"],
    )
    def get(self, request):
        filters = self.query(s.TransferFilterSerializer)
        return self.paginated(
            selectors.transfer_list(merchant=request.merchant, **filters), s.TransferSerializer
        )

    @extend_schema(
        operation_id="transfers_create",
        request=s.TransferRequestSerializer,
        examples=[
            OpenApiExample(
                "Restock a store",
                request_only=True,
                value={
                    "source": LOCATION,
                    "destination": "empty-store",
                    "lines": [{"sku": SKU, "quantity": 3}],
                    "reference": "TR-1",
                },
            ),
        ],
        responses={201: s.TransferSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        tags=["transfers"],
        description="Create a draft transfer between two locations. No stock moves until it ships.",
    )
    def post(self, request):
        def perform(key: str) -> tuple[Response, bool]:
            data = self.body(s.TransferRequestSerializer)
            products, locations = resolve(
                request.merchant,
                [
                    {**line, "source": data["source"], "destination": data["destination"]}
                    for line in data["lines"]
                ],
                location_fields=("source", "destination"),
            )
            require_locations(request, [locations[data["source"]]])
            transfer = services.transfer_create(
                merchant=request.merchant,
                source_location=locations[data["source"]],
                destination_location=locations[data["destination"]],
                lines=[
                    services.TransferLineRequest(
                        product=products[line["sku"]], quantity=line["quantity"]
                    )
                    for line in data["lines"]
                ],
                actor=request.actor,
                idempotency_key=key,
                reference=data.get("reference", ""),
                note=data.get("note", ""),
                shipping=_shipping(data),
            )
            fresh = selectors.transfer_get(merchant=request.merchant, transfer_id=transfer.pk)
            # A replay is answered from the stored first response before we get here.
            return Response(s.TransferSerializer(fresh).data, status=status.HTTP_201_CREATED), False

        return stock_write(request, perform)


class TransferDetailView(MerchantAPIView):
    @extend_schema(
        operation_id="transfers_retrieve", responses=s.TransferSerializer, tags=["transfers"]
    )
    def get(self, request, transfer_id):
        transfer = selectors.transfer_get(merchant=request.merchant, transfer_id=transfer_id)
        return Response(s.TransferSerializer(transfer).data)


def _shipping(data: dict) -> services.Shipping:
    return services.Shipping(
        carrier=data.get("carrier", ""),
        tracking_number=data.get("tracking_number", ""),
        cost=data.get("shipping_cost"),
    )


def _transfer_action(
    name: str,
    action: Callable[..., Transfer],
    description: str,
    with_source: bool = True,
    request_serializer: type[Serializer] | None = None,
) -> type[MerchantAPIView]:
    """A view for POST transfers/{id}/<name>/ calling `action` (a transfer service)."""

    def post(self, request, transfer_id):
        def perform(key: str) -> tuple[Response, bool]:
            data = self.body(request_serializer or NoBodySerializer)
            if request.location_scope is not None:
                moving = selectors.transfer_get(merchant=request.merchant, transfer_id=transfer_id)
                end = moving.destination_location if name == "receive" else moving.source_location
                require_locations(request, [end])
            kwargs = {"source": Source.API} if with_source else {}
            if request_serializer is s.ShippingSerializer:
                kwargs["shipping"] = _shipping(data)
            transfer = action(
                merchant=request.merchant,
                transfer_id=transfer_id,
                actor=request.actor,
                idempotency_key=key,
                **kwargs,
            )
            fresh = selectors.transfer_get(merchant=request.merchant, transfer_id=transfer.pk)
            return Response(s.TransferSerializer(fresh).data), False

        return stock_write(request, perform)

    return action_view(
        f"Transfer{name.title()}View",
        post,
        operation_id=f"transfers_{name}",
        request=request_serializer,
        response=s.TransferSerializer,
        tag="transfers",
        description=description,
    )


TransferShipView = _transfer_action(
    "ship",
    services.transfer_ship,
    "Units leave the source's on_hand (unreserved units only) and show as in_transit at the "
    "destination; all lines or none (409 with the short lines). The optional body records the "
    "carrier, tracking number and shipping cost (fields left out keep the draft's).",
    request_serializer=s.ShippingSerializer,
)
TransferReceiveView = _transfer_action(
    "receive",
    services.transfer_receive,
    "Units in transit arrive in the destination's on_hand.",
)
TransferCancelView = _transfer_action(
    "cancel",
    services.transfer_cancel,
    "Cancel a draft transfer (a shipped one is 409).",
    with_source=False,
)
