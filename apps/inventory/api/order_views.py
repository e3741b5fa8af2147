"""Reservations: hold, commit, release, extend, return."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.utils.json import strict_constant

from apps.api import throttling
from apps.api.idempotency import (
    HEADER as IDEMPOTENCY_HEADER,
)
from apps.api.idempotency import (
    MAX_KEY_LENGTH,
    fingerprint_of,
    request_fingerprint,
    request_key,
    stock_write,
)
from apps.api.problems import PROBLEM_CONTENT_TYPE, domain_problem
from apps.api.rendering import FastJSONRenderer
from apps.api.schema import IDEMPOTENCY_PARAMETER, PATH_EXAMPLES
from apps.api.serializers import NoBodySerializer
from apps.api.tenancy import require_locations
from apps.api.views import MerchantAPIView
from apps.apikeys.auth import key_from_authorization
from apps.core import json_nesting
from apps.core.db_errors import retry_on_conflict
from apps.core.errors import DomainError
from apps.inventory import selectors, services
from apps.inventory.api import serializers as s
from apps.inventory.api.lines import one_located_line, resolve
from apps.inventory.models import Reservation, Source

SKU, LOCATION = PATH_EXAMPLES["sku"], PATH_EXAMPLES["location"]
PLAIN_BODY_MAX = 4096  # bytes: a plain one-line reservation is far smaller


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

    def dispatch(self, request, *args, **kwargs):
        answer = self._reserve_plainly(request)
        if answer is not None:
            return answer
        return super().dispatch(request, *args, **kwargs)

    def _reserve_plainly(self, request: HttpRequest) -> HttpResponse | None:
        """The busiest write, one line at a named location by an API key that may write, in
        the plainest body, answered as DRF's path answers it but without building DRF's
        request (tests hold the two paths' answers equal): the key from this process's
        memory, the body read as the API's parser reads it, the budget spent locally, the
        reservation in one statement. Anything else returns None for DRF's path to answer,
        before anything was counted, or, once the budget is spent, with the budget marked
        spent (`budget_spent`) so that DRF's path does not count it again."""
        if request.method != "POST" or request.GET or request.content_type != "application/json":
            return None
        if int(request.META.get("CONTENT_LENGTH") or 0) > PLAIN_BODY_MAX:
            return None
        api_key = key_from_authorization(request.META.get("HTTP_AUTHORIZATION", ""))
        key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
        if api_key is None or api_key.read_only or not key or len(key) > MAX_KEY_LENGTH:
            return None
        try:
            data = json_nesting.loads(request.body.decode(), parse_constant=strict_constant)
        except ValueError:  # UnicodeDecodeError too: DRF's parser explains
            return None
        line = one_located_line(data)
        if line is None:
            return None
        rate = settings.STOCKROOM_API_RATE_LIMIT
        decision = throttling.budgets.take(throttling.key_ident(api_key), rate) if rate else None
        if decision is not None and not decision.allowed:
            return None  # refusals spend nothing: DRF's path refuses it again, with the 429
        request.budget_spent = decision
        fingerprint = fingerprint_of(request, request.GET, data)
        rendered: list[bytes] = []

        def respond(reservation: Reservation) -> services.FirstResponse:
            rendered.append(FastJSONRenderer().render(s.ReservationSerializer(reservation).data))
            return services.FirstResponse(
                fingerprint, status.HTTP_201_CREATED, rendered[-1].decode()
            )

        try:
            reservation = retry_on_conflict(
                functools.partial(
                    services.reservation_create_by_code,
                    merchant=api_key.merchant,
                    sku=line.sku,
                    location_code=line.location,
                    quantity=line.quantity,
                    actor=api_key,
                    idempotency_key=key,
                    source=Source.API,
                    ttl_seconds=line.ttl_seconds,
                    order_ref=line.order_ref,
                    respond=respond,
                )
            )
        except DomainError as error:
            response = HttpResponse(
                FastJSONRenderer().render(domain_problem(error)),
                status=error.http_status,
                content_type=PROBLEM_CONTENT_TYPE,
            )
        else:
            if reservation is None:
                return None  # DRF's path, its budget spent
            response = HttpResponse(
                rendered[-1], status=status.HTTP_201_CREATED, content_type="application/json"
            )
        response["Allow"] = ", ".join(self.allowed_methods)
        for name, value in throttling.decision_headers(decision).items():
            response[name] = value
        return response

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


def action_view(
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
    """A view for POST reservations/{id}/<name>/ calling `action` (a reservation service).
    A commit or release by a caller not limited to some locations, with no body, is first
    tried in one statement (`services.reservation_close_at_once`)."""
    closes = {"commit": True, "release": False}.get(name)

    def post(self, request, reservation_id):
        if closes is not None and not request.location_scope and not request.data:
            document = retry_on_conflict(
                functools.partial(
                    services.reservation_close_at_once,
                    merchant=request.merchant,
                    reservation_id=reservation_id,
                    commit=closes,
                    actor=request.actor,
                    idempotency_key=request_key(request, required=True),
                    request=request_fingerprint(request),
                    source=Source.API,
                )
            )
            if document is not None:
                return HttpResponse(document, content_type="application/json")

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

    return action_view(
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
