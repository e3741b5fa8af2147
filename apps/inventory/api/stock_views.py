"""Stock levels, availability and the single-location stock changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from apps.api import throttling
from apps.api.idempotency import stock_write
from apps.api.problems import PROBLEM_CONTENT_TYPE, domain_problem
from apps.api.rendering import FastJSONRenderer
from apps.api.schema import IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER, PATH_EXAMPLES
from apps.api.tenancy import require_locations
from apps.api.views import MerchantAPIView
from apps.apikeys.auth import key_from_authorization
from apps.core.errors import DomainError
from apps.inventory import availability_cache, selectors, services
from apps.inventory.api import serializers as s
from apps.inventory.api.lines import change_payload, etag, if_match_version, resolve
from apps.inventory.models import Source

TAGS = ["stock"]


class StockLevelListView(MerchantAPIView):
    @extend_schema(
        operation_id="stock_list",
        parameters=[s.StockLevelFilterSerializer],
        responses=s.StockLevelSerializer(many=True),
        tags=TAGS,
    )
    def get(self, request):
        filters = self.query(s.StockLevelFilterSerializer)
        return self.paginated(
            selectors.stock_level_list(merchant=request.merchant, **filters),
            s.StockLevelSerializer,
        )


class StockLevelDetailView(MerchantAPIView):
    @extend_schema(
        operation_id="stock_retrieve",
        responses=s.StockLevelSerializer,
        tags=TAGS,
        description='The level with `ETag: "<version>"`; send it back as If-Match on a change '
        "to make it conditional. A product and location without stock read as an empty level "
        "at version 0.",
    )
    def get(self, request, sku: str, location: str):
        level = selectors.stock_level_get(merchant=request.merchant, sku=sku, location=location)
        tag = etag(level.version)
        if request.headers.get("If-None-Match") == tag:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
        return Response(s.StockLevelSerializer(level).data, headers={"ETag": tag})

    @extend_schema(
        operation_id="stock_configure",
        request=s.StockLevelSettingsSerializer,
        responses=s.StockLevelSerializer,
        parameters=[IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER],
        tags=TAGS,
        description="Set safety stock, low-stock threshold, reorder point, max level or the "
        "number of buckets a hot SKU's reservable units are split over.",
    )
    def patch(self, request, sku: str, location: str):
        def perform(key: str) -> tuple[Response, bool]:
            level = selectors.stock_level_get(merchant=request.merchant, sku=sku, location=location)
            require_locations(request, [level.location])
            settings = dict(self.body(s.StockLevelSettingsSerializer))
            expected = settings.pop("expected_version", None)
            header_version = if_match_version(request)
            result = services.stock_level_configure(
                merchant=request.merchant,
                product=level.product,
                location=level.location,
                actor=request.actor,
                idempotency_key=key,
                source=Source.API,
                expected_version=header_version if header_version is not None else expected,
                **settings,
            )
            level = selectors.stock_level_get(merchant=request.merchant, sku=sku, location=location)
            data = s.StockLevelSerializer(level).data
            return Response(data, headers={"ETag": etag(level.version)}), result.replayed

        return stock_write(request, perform)


class AvailabilityView(MerchantAPIView):
    def dispatch(self, request, *args, **kwargs):
        answer = self._answer_plainly(request, kwargs.get("sku", ""))
        if answer is not None:
            return answer
        return super().dispatch(request, *args, **kwargs)

    def _answer_plainly(self, request: HttpRequest, sku: str) -> HttpResponse | None:
        """The busiest read, a GET by API key without parameters, answered as DRF's path
        answers it but without building DRF's request: the key from this process's memory,
        the budget spent locally, the document from this process's memory (tests hold the two
        paths' answers equal). Anything else (another method, a query, a session, a key or a
        budget refused) returns None, before anything was counted, for DRF's path to answer."""
        if request.method != "GET" or request.GET or "\x00" in sku:
            return None
        api_key = key_from_authorization(request.META.get("HTTP_AUTHORIZATION", ""))
        if api_key is None:
            return None
        rate = settings.STOCKROOM_API_RATE_LIMIT
        decision = throttling.budgets.take(throttling.key_ident(api_key), rate) if rate else None
        if decision is not None and not decision.allowed:
            return None  # refusals spend nothing: DRF's path refuses it again, with the 429
        try:
            document = availability_cache.availability_document(merchant=api_key.merchant, sku=sku)
        except DomainError as error:
            response = HttpResponse(
                FastJSONRenderer().render(domain_problem(error)),
                status=error.http_status,
                content_type=PROBLEM_CONTENT_TYPE,
            )
        else:
            response = HttpResponse(document, content_type="application/json")
        response["Allow"] = ", ".join(self.allowed_methods)
        for name, value in throttling.decision_headers(decision).items():
            response[name] = value
        return response

    @extend_schema(
        operation_id="availability_retrieve",
        parameters=[s.AvailabilityQuerySerializer],
        responses=s.AvailabilitySerializer,
        tags=TAGS,
        description="Units that can be reserved now, in total and per location, and whether "
        "`quantity` can be served, from one location, or with substitutes. While the database "
        "cannot be reached the last known figures are served from the cache with `stale: true`, "
        "their `age_seconds` and a `Warning: 110` header (503 when the cache holds none).",
    )
    def get(self, request, sku: str):
        quantity = self.query(s.AvailabilityQuerySerializer)["quantity"]
        # The cached document has exactly the documented fields (AvailabilitySerializer),
        # encoded once per change rather than serialized per request.
        answer = availability_cache.availability_answer(
            merchant=request.merchant, sku=sku, quantity=quantity
        )
        response = HttpResponse(answer.body, content_type="application/json")
        if answer.stale:
            response["Warning"] = (
                f'110 stockroom "Response is Stale: the database is unreachable; figures '
                f'{answer.age_seconds} s old"'
            )
        return response


class StockChangeView(MerchantAPIView):
    """POST one change (`{sku, location, quantity, ...}`) or a batch (`{lines: [...]}`): all
    lines apply or none. Returns the new levels and the ledger ids."""

    service: Callable[..., services.StockChangeResult]
    single: type
    batch: type
    quantity_field = "quantity"
    needs_reason = False

    def perform(self, key: str) -> tuple[Response, bool]:
        request = self.request
        is_batch = isinstance(request.data, dict) and "lines" in request.data
        data = self.body(self.batch if is_batch else self.single)
        lines = data["lines"] if is_batch else [data]
        header_version = if_match_version(request)
        if header_version is not None and len(lines) != 1:
            raise exceptions.ValidationError(
                {"If-Match": ["If-Match applies to one line; use expected_version per line."]}
            )
        products, locations = resolve(request.merchant, lines, single=not is_batch)
        require_locations(request, locations.values())
        stock_lines = [
            services.StockLine(
                product=products[line["sku"]],
                location=locations[line["location"]],
                quantity=line[self.quantity_field],
                expected_version=(
                    header_version if header_version is not None else line.get("expected_version")
                ),
            )
            for line in lines
        ]
        result = self.call(stock_lines, key, data.get("reason", ""), data.get("reference", ""))
        names = {
            (line.product.pk, line.location.pk): (line.product.sku, line.location.code)
            for line in stock_lines
        }
        body = change_payload(result.entries, names)
        return Response(body, status=status.HTTP_201_CREATED), result.replayed

    def call(self, lines: list[services.StockLine], key: str, reason: str, reference: str):
        request = self.request
        common: dict[str, Any] = {
            "merchant": request.merchant,
            "lines": lines,
            "actor": request.actor,
            "idempotency_key": key,
            "source": Source.API,
            "reference": reference,
        }
        if self.needs_reason:
            return self.service(reason=reason, **common)
        return self.service(note=reason, **common)


def change_examples(quantity_field: str, needs_reason: bool) -> list[OpenApiExample]:
    line = {"sku": PATH_EXAMPLES["sku"], "location": PATH_EXAMPLES["location"], quantity_field: 5}
    reason = {"reason": "Found behind the shelf"} if needs_reason else {}
    return [
        OpenApiExample(
            "One line", value={**line, **reason, "reference": "DOC-1"}, request_only=True
        ),
        OpenApiExample(
            "Several lines",
            request_only=True,
            value={
                "lines": [line, {**line, "location": "empty-store", quantity_field: 2}],
                **reason,
                "reference": "DOC-2",
            },
        ),
    ]


def change_view(
    name: str,
    service: Callable[..., services.StockChangeResult],
    line: type,
    *,
    description: str,
    quantity_field: str = "quantity",
    needs_reason: bool = False,
) -> type[StockChangeView]:
    single, batch = s.change_serializers(name, line, reason_required=needs_reason)
    operation = name.lower() + "s"
    view = type(
        f"{name}View",
        (StockChangeView,),
        {
            "service": staticmethod(service),
            "single": single,
            "batch": batch,
            "quantity_field": quantity_field,
            "needs_reason": needs_reason,
            "__doc__": description,
        },
    )

    def post(self, request):
        return stock_write(request, self.perform)

    # A function of its own per view: extend_schema annotates the function it decorates.
    view.post = extend_schema(
        operation_id=f"stock_{operation}_create",
        request=PolymorphicProxySerializer(
            component_name=f"{name}Body",
            serializers=[single, batch],
            resource_type_field_name=None,
        ),
        responses={201: s.StockChangeResponseSerializer},
        parameters=[IDEMPOTENCY_PARAMETER, IF_MATCH_PARAMETER],
        tags=TAGS,
        description=description,
        examples=change_examples(quantity_field, needs_reason),
    )(post)
    return view


ReceiptView = change_view(
    "Receipt",
    services.stock_receive,
    s.QuantityLineSerializer,
    description="Units arrive: on_hand goes up (refused past the level's max_level).",
)
ShipmentView = change_view(
    "Shipment",
    services.stock_ship,
    s.QuantityLineSerializer,
    description="Units leave without a reservation (direct sale, manual shipment): on_hand goes "
    "down; only unreserved units can go.",
)
AdjustmentView = change_view(
    "Adjustment",
    services.stock_adjust,
    s.AdjustmentLineSerializer,
    quantity_field="delta",
    needs_reason=True,
    description="Correct on_hand by a signed `delta`, with a required `reason`.",
)
CountView = change_view(
    "Count",
    services.stock_count,
    s.CountLineSerializer,
    description="Record a cycle count: `quantity` is the counted on_hand; the ledger keeps the "
    "variance. A count below the reserved units is refused (409).",
)
DamageView = change_view(
    "Damage",
    services.stock_damage,
    s.QuantityLineSerializer,
    description="Move units from on_hand to damaged (quarantined, not sellable).",
)
WriteOffView = change_view(
    "WriteOff",
    services.stock_write_off,
    s.QuantityLineSerializer,
    description="Dispose of damaged units: damaged goes down.",
)
