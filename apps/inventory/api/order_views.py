"""Reservations (hold, commit, release, extend) and transfers (create, ship, receive, cancel)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from apps.api.idempotency import request_fingerprint, request_key, stock_write
from apps.api.rendering import FastJSONRenderer
from apps.api.schema import IDEMPOTENCY_PARAMETER, PATH_EXAMPLES
from apps.api.serializers import NoBodySerializer
from apps.api.tenancy import require_locations
from apps.api.views import MerchantAPIView
from apps.core.db_errors import retry_on_conflict
from apps.inventory import selectors, services
from apps.inventory.api import serializers as s
from apps.inventory.api.lines import one_located_line, resolve
from apps.inventory.models import Reservation, Source, Transfer

SKU, LOCATION = PATH_EXAMPLES["sku"], PATH_EXAMPLES["location"]


# --- Reservations -------------------------------------------------------------------------
class ReservationListView(MerchantAPIView):
    @extend_schema(
        operation_id="reservations_list",
        parameters=[s.ReservationFilterSerializer],
        responses=s.ReservationSerializer(many=True),
        tags=["reservations"],
    )
    def get(self, request):
        filters = self.query(s.ReservationFilterSerializer)
        return self.paginated(
            selectors.reservation_list(merchant=request.merchant, **filters),
            s.ReservationSerializer,
        )

    @extend_schema(
        operation_id="reservations_create",
        request=s.ReservationRequestSerializer,
        examples=[
            OpenApiExample(
                "Allocate anywhere",
                request_only=True,
                value={
                    "lines": [{"sku": SKU, "quantity": 2}],
                    "ttl_seconds": 900,
                    "order_ref": "WEB-1",
                },
            ),
            OpenApiExample(
                "At a location",
                request_only=True,
                value={
                    "lines": [{"sku": SKU, "location": LOCATION, "quantity": 1}],
                },
            ),
            OpenApiExample(
                "Substitutes allowed",
                request_only=True,
                value={
                    "lines": [
                        {"sku": SKU, "location": LOCATION, "quantity": 2, "substitutes": True}
                    ],
                },
            ),
        ],
        responses={201: s.ReservationSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        tags=["reservations"],
        description="Hold units for an order, all lines or none. Lines without a location are "
        "allocated over active locations by priority (nearest first with `near`). A line with "
        "`substitutes: true` takes other products of its SKU's substitution group when the SKU "
        "is short; its answer's lines name what they stand in for (`substitute_for`). "
        "Insufficient stock is 409 with each short line's requested and available units.",
    )
    def post(self, request):
        held = self._create_by_code(request)
        if held is not None:
            return held

        def perform(key: str) -> tuple[Response, bool]:
            data = self.body(s.ReservationRequestSerializer)
            products, locations = resolve(request.merchant, data["lines"])
            if request.location_scope is not None and not all(
                line.get("location") for line in data["lines"]
            ):
                raise exceptions.PermissionDenied(
                    "You work on a limited set of locations: name the location of every line."
                )
            require_locations(request, locations.values())
            near = data.get("near")
            reservation = services.reservation_create(
                merchant=request.merchant,
                lines=[
                    services.ReservationLineRequest(
                        product=products[line["sku"]],
                        quantity=line["quantity"],
                        location=locations[line["location"]] if line.get("location") else None,
                        substitutes=line["substitutes"],
                    )
                    for line in data["lines"]
                ],
                actor=request.actor,
                idempotency_key=key,
                source=Source.API,
                ttl_seconds=data.get("ttl_seconds"),
                order_ref=data.get("order_ref", ""),
                near=(near["latitude"], near["longitude"]) if near else None,
            )
            # The service returns the reservation with its lines, products and locations
            # loaded: no second read on the hot path.
            body = s.ReservationSerializer(reservation).data
            return Response(body, status=status.HTTP_201_CREATED), reservation.replayed

        return stock_write(request, perform)

    def _create_by_code(self, request) -> HttpResponse | None:
        """One line at a named location (most orders): the whole write, the response to
        replay included, in one statement (`services.reservation_create_by_code`). None when
        the request takes the general path (several lines, allocation, a body the serializer
        must look at, a manager limited to some locations, or anything that statement leaves
        to it)."""
        line = one_located_line(request.data)
        if line is None or request.location_scope:
            return None
        fingerprint = request_fingerprint(request)
        rendered: list[bytes] = []

        def respond(reservation: Reservation) -> services.FirstResponse:
            rendered.append(FastJSONRenderer().render(s.ReservationSerializer(reservation).data))
            return services.FirstResponse(
                fingerprint, status.HTTP_201_CREATED, rendered[-1].decode()
            )

        reservation = retry_on_conflict(
            functools.partial(
                services.reservation_create_by_code,
                merchant=request.merchant,
                sku=line.sku,
                location_code=line.location,
                quantity=line.quantity,
                actor=request.actor,
                idempotency_key=request_key(request, required=True),
                source=Source.API,
                ttl_seconds=line.ttl_seconds,
                order_ref=line.order_ref,
                respond=respond,
            )
        )
        if reservation is None:
            return None
        return HttpResponse(
            rendered[-1], status=status.HTTP_201_CREATED, content_type="application/json"
        )


class ReservationDetailView(MerchantAPIView):
    @extend_schema(
        operation_id="reservations_retrieve",
        responses=s.ReservationSerializer,
        tags=["reservations"],
    )
    def get(self, request, reservation_id):
        reservation = selectors.reservation_get(
            merchant=request.merchant, reservation_id=reservation_id
        )
        return Response(s.ReservationSerializer(reservation).data)


def _action_view(
    class_name: str,
    post: Callable,
    *,
    operation_id: str,
    request: type[Serializer] | None,
    response: type[Serializer],
    tag: str,
    description: str,
) -> type[MerchantAPIView]:
    """A view class whose POST is `post` (a function of its own per view: extend_schema
    annotates the function it decorates)."""
    documented = extend_schema(
        operation_id=operation_id,
        request=request,
        responses=response,
        parameters=[IDEMPOTENCY_PARAMETER],
        tags=[tag],
        description=description,
    )(post)
    return type(class_name, (MerchantAPIView,), {"post": documented})


def _reservation_action(
    name: str,
    action: Callable[..., Reservation],
    description: str,
    request_serializer: type[Serializer] | None = None,
    with_source: bool = True,
) -> type[MerchantAPIView]:
    """A view for POST reservations/{id}/<name>/ calling `action` (a reservation service)."""

    def post(self, request, reservation_id):
        def perform(key: str) -> tuple[Response, bool]:
            if request.location_scope is not None:
                held = selectors.reservation_get(
                    merchant=request.merchant, reservation_id=reservation_id
                )
                require_locations(request, [line.location for line in held.lines.all()])
            extra = dict(self.body(request_serializer or NoBodySerializer))
            if with_source:
                extra["source"] = Source.API
            reservation = action(
                merchant=request.merchant,
                reservation_id=reservation_id,
                actor=request.actor,
                idempotency_key=key,
                **extra,
            )
            fresh = selectors.reservation_get(
                merchant=request.merchant, reservation_id=reservation.pk
            )
            return Response(s.ReservationSerializer(fresh).data), reservation.replayed

        return stock_write(request, perform)

    return _action_view(
        f"Reservation{name.title()}View",
        post,
        operation_id=f"reservations_{name}",
        request=request_serializer,
        response=s.ReservationSerializer,
        tag="reservations",
        description=description,
    )


ReservationCommitView = _reservation_action(
    "commit",
    services.reservation_commit,
    "The sale: reserved and on_hand go down. Refused (409) unless active and unexpired.",
)
ReservationReleaseView = _reservation_action(
    "release",
    services.reservation_release,
    "Give the units back. Releasing a released or expired reservation changes nothing; a "
    "committed one is refused (409).",
)
ReservationExtendView = _reservation_action(
    "extend",
    services.reservation_extend,
    "Push the expiry to now + ttl_seconds (active, unexpired reservations only).",
    request_serializer=s.ExtendRequestSerializer,
    with_source=False,
)


class ReservationReturnView(MerchantAPIView):
    @extend_schema(
        operation_id="reservations_return",
        request=s.ReturnRequestSerializer,
        examples=[
            OpenApiExample(
                "Two units back on the shelf",
                request_only=True,
                value={
                    "lines": [{"sku": SKU, "quantity": 2}],
                    "disposition": "restock",
                    "reason": "Wrong size",
                },
            ),
            OpenApiExample(
                "The order cancelled after commit",
                request_only=True,
                value={"disposition": "restock", "reason": "Cancelled by the customer"},
            ),
        ],
        responses={201: s.ReturnResultSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        tags=["reservations"],
        description="Units of a committed (sold) reservation come back: `restock` puts them "
        "back on hand, `damaged` sets them aside. Leave `lines` out to cancel the whole order "
        "after commit. Never more of a SKU than the reservation sold less earlier returns "
        "(409 `return_exceeds_committed` with the figures); a reservation that is not "
        "committed is 409 `invalid_state`. The ledger rows reference the reservation "
        "(`reservation:<id>`) and name the order; a `reservation.returned` event follows.",
    )
    def post(self, request, reservation_id):
        def perform(key: str) -> tuple[Response, bool]:
            data = self.body(s.ReturnRequestSerializer)
            lines = data.get("lines")
            products, locations = resolve(request.merchant, lines or [])
            if request.location_scope is not None:
                held = selectors.reservation_get(
                    merchant=request.merchant, reservation_id=reservation_id
                )
                unnamed = lines is None or not all(line.get("location") for line in lines)
                sold_at = [line.location for line in held.lines.all()] if unnamed else []
                require_locations(request, [*locations.values(), *sold_at])
            record = services.reservation_return(
                merchant=request.merchant,
                reservation_id=reservation_id,
                lines=None
                if lines is None
                else [
                    services.ReturnLineRequest(
                        product=products[line["sku"]],
                        quantity=line["quantity"],
                        location=locations[line["location"]] if line.get("location") else None,
                    )
                    for line in lines
                ],
                disposition=data["disposition"],
                reason=data.get("reason", ""),
                actor=request.actor,
                idempotency_key=key,
                source=Source.API,
            )
            record.returnable = selectors.reservation_returnable(
                reservation=record.reservation
            ).values()
            body = s.ReturnResultSerializer(record).data
            return Response(body, status=status.HTTP_201_CREATED), record.replayed

        return stock_write(request, perform)


class ReservationReturnListView(MerchantAPIView):
    @extend_schema(
        operation_id="reservations_returns_list",
        responses=s.ReturnSerializer(many=True),
        tags=["reservations"],
        description="The returns of a reservation (and its cancellation after commit), oldest "
        "first.",
    )
    def get(self, request, reservation_id):
        return self.paginated(
            selectors.reservation_returns(merchant=request.merchant, reservation_id=reservation_id),
            s.ReturnSerializer,
        )


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

    return _action_view(
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
