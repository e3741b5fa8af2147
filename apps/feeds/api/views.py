from __future__ import annotations

from collections import Counter
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from apps.api.idempotency import (
    claim_and_remember,
    request_fingerprint,
    request_key,
    stock_write,
    stored_response,
)
from apps.api.problems import domain_problem, flatten_errors, problem_response
from apps.api.schema import IDEMPOTENCY_PARAMETER, PATH_EXAMPLES
from apps.api.serializers import unknown_field_message
from apps.api.tenancy import require_locations
from apps.api.views import MerchantAPIView
from apps.catalog.selectors import products_by_sku
from apps.core import db_errors
from apps.feeds.api import serializers as s
from apps.feeds.models import QueuedFeedBatch
from apps.feeds.services.bulk import ADJUST, BulkLine, UnknownLine, bulk_stock_apply
from apps.feeds.services.events import InboundEvent, feed_events_apply
from apps.feeds.services.queue import (
    QueuedEvent,
    QueueUnavailable,
    feed_batch_enqueue,
    feed_batch_status,
    feed_queue_holds_batches,
)
from apps.inventory.api.lines import resolve, resolve_known
from apps.inventory.models import MAX_QUANTITY
from apps.locations.selectors import locations_by_code

SKU, LOCATION = PATH_EXAMPLES["sku"], PATH_EXAMPLES["location"]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_bulk_lines(mode: str, raw: list[dict]) -> list[dict[str, Any]]:
    """Validate up to 10,000 lines without a serializer per line (that would cost seconds).
    Errors name each field: `lines.12.quantity`."""
    errors: dict[str, list[str]] = {}
    field = "delta" if mode == ADJUST else "quantity"
    known = {"sku", "location", field, "expected_version"}
    lines = []
    for index, line in enumerate(raw):
        at = f"lines.{index}"
        for name in sorted(line.keys() - known):  # e.g. `delta` in a count: it would be ignored
            errors[f"{at}.{name}"] = [unknown_field_message(name, known)]
        sku, code = line.get("sku"), line.get("location")
        if not isinstance(sku, str) or not 0 < len(sku.strip()) <= 64 or "\x00" in sku:
            errors[f"{at}.sku"] = ["A SKU (1 to 64 characters) is required."]
        if not isinstance(code, str) or not 0 < len(code.strip()) <= 50 or "\x00" in code:
            errors[f"{at}.location"] = ["A location code (1 to 50 characters) is required."]
        quantity = _int(line.get(field))
        low = -MAX_QUANTITY if mode == ADJUST else 0
        if (
            quantity is None
            or not low <= quantity <= MAX_QUANTITY
            or (mode == ADJUST and quantity == 0)
        ):
            errors[f"{at}.{field}"] = [
                "A non-zero whole number of units."
                if mode == ADJUST
                else "A whole number of units, 0 or more."
            ]
        version = line.get("expected_version")
        if version is not None and (_int(version) is None or not 0 <= version <= 2**62):
            errors[f"{at}.expected_version"] = ["A whole number, 0 or more."]
        if not errors:
            lines.append(
                {
                    "sku": sku.strip(),
                    "location": code.strip(),
                    "quantity": quantity,
                    "expected_version": version,
                }
            )
    if errors:
        raise exceptions.ValidationError(errors)
    return lines


class BulkStockView(MerchantAPIView):
    @extend_schema(
        operation_id="bulk_stock_create",
        request=s.BulkStockRequestDocSerializer,
        examples=[
            OpenApiExample(
                "Counts, per line",
                request_only=True,
                value={
                    "mode": "count",
                    "atomic": False,
                    "reference": "COUNT-7",
                    "lines": [
                        {"sku": SKU, "location": LOCATION, "quantity": 40},
                        {"sku": SKU, "location": "empty-store", "quantity": 0},
                    ],
                },
            ),
            OpenApiExample(
                "Adjustments, all or none",
                request_only=True,
                value={
                    "mode": "adjust",
                    "atomic": True,
                    "reason": "Shrinkage",
                    "lines": [{"sku": SKU, "location": LOCATION, "delta": -2}],
                },
            ),
        ],
        responses={200: s.BulkStockResponseSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        tags=["bulk"],
        description="Up to 10,000 count (`quantity` = counted) or adjustment (`delta`, with a "
        "`reason`) lines in one call, applied set-based. `atomic: true` applies all or none; "
        "`atomic: false` reports each line as applied or rejected (with why: an unknown SKU or "
        "location, or a refusal), applying the others.",
    )
    def post(self, request):
        def perform(key: str) -> tuple[Response, bool]:
            data = self.body(s.BulkStockRequestSerializer)
            lines = parse_bulk_lines(data["mode"], data["lines"])
            if data["atomic"]:
                products, locations = resolve(request.merchant, lines)
                unknown = {}
            else:  # an unknown SKU or location is that line's outcome
                products, locations, unknown = resolve_known(request.merchant, lines)
            require_locations(request, locations.values())
            result = bulk_stock_apply(
                merchant=request.merchant,
                mode=data["mode"],
                atomic=data["atomic"],
                lines=[
                    BulkLine(
                        index=i,
                        product=products[ln["sku"]],
                        location=locations[ln["location"]],
                        quantity=ln["quantity"],
                        expected_version=ln["expected_version"],
                    )
                    for i, ln in enumerate(lines)
                    if i not in unknown
                ],
                unknown=[
                    UnknownLine(
                        index=i,
                        sku=lines[i]["sku"],
                        location=lines[i]["location"],
                        detail=" ".join(unknown[i].values()),
                    )
                    for i in sorted(unknown)
                ],
                actor=request.actor,
                idempotency_key=key,
                reason=data.get("reason", ""),
                reference=data.get("reference", ""),
            )
            return Response(result.as_dict()), result.replayed

        return stock_write(request, perform)


class EventFeedView(MerchantAPIView):
    @extend_schema(
        operation_id="events_create",
        request=s.EventBatchDocSerializer,
        examples=[
            OpenApiExample(
                "A sale and a count",
                request_only=True,
                value={
                    "events": [
                        {
                            "source": "pos-1",
                            "event_id": "s-1",
                            "sequence": 1,
                            "type": "sale",
                            "sku": SKU,
                            "location": LOCATION,
                            "quantity": 1,
                        },
                        {
                            "source": "pos-1",
                            "event_id": "c-1",
                            "sequence": 2,
                            "type": "count",
                            "sku": SKU,
                            "location": LOCATION,
                            "quantity": 30,
                        },
                    ]
                },
            ),
        ],
        responses={200: s.EventBatchResponseSerializer, 202: s.EventBatchQueuedSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        tags=["events"],
        description="A batch of POS or supplier events (sale, receipt, count, return). Each gets "
        "an outcome: `applied`; `duplicate` (this source and event_id were received before: no "
        "second effect); `stale` (older than a count that already reflects it); or `rejected` "
        "with why (nothing recorded; fix and resend). With `occurred_at`, a count is the "
        "quantity at that moment: on hand becomes it plus every movement of any channel after "
        "it; events before a count of any channel are stale. Without, `sequence` orders the "
        "source's own events. While the database cannot be reached (and until the batches "
        "accepted meanwhile are applied) a batch is queued: 202 with its `batch_id` and a "
        "`Location` to follow (`events/queued/{batch_id}/`); it is applied exactly once, in "
        "the order received, when the database is back.",
    )
    def post(self, request):
        key = request_key(request, required=True)
        fingerprint = request_fingerprint(request)
        raw = self.body(s.EventBatchSerializer)["events"]
        results, valid = _validated(raw)
        unreachable: Exception | None = None
        if db_errors.database_outage.should_try():
            try:
                stored = stored_response(request.merchant, key, fingerprint)
                if stored is not None:
                    return stored
                if not feed_queue_holds_batches():
                    response = self._apply(request, key, fingerprint, results, valid)
                    db_errors.database_outage.recovered()
                    return response
            except (OperationalError, InterfaceError) as error:
                if not db_errors.is_unreachable(error):
                    raise
                db_errors.database_outage.failed(error)
                unreachable = error
        else:
            unreachable = OperationalError("The database is unreachable (retried shortly).")
        # The database cannot be reached, or batches accepted while it could not wait before
        # this one: queue it behind them (events of a level apply in the order received).
        try:
            return self._queue(request, key, fingerprint, results, valid)
        except QueueUnavailable as refused:
            if unreachable is not None:
                raise unreachable from refused  # 503 database_unavailable, Retry-After
            return problem_response(
                domain_problem(refused),
                headers={"Retry-After": str(settings.STOCKROOM_RETRY_AFTER_SECONDS)},
            )

    def _apply(self, request, key: str, fingerprint: str, results, valid) -> Response:
        """Apply the batch now: each event's outcome, the response stored for the key."""
        products = products_by_sku(merchant=request.merchant, skus=[e["sku"] for _, e in valid])
        locations = locations_by_code(
            merchant=request.merchant, codes=[e["location"] for _, e in valid]
        )
        inbound: list[tuple[int, InboundEvent]] = []
        for index, event in valid:
            unknown = {
                name: [f"Unknown {label} {event[name]}."]
                for name, label, known in (
                    ("sku", "SKU", products),
                    ("location", "location", locations),
                )
                if event[name] not in known
            }
            scope = request.location_scope
            if not unknown and scope is not None and locations[event["location"]].pk not in scope:
                results[index].update(
                    code="permission_denied",
                    detail=f"You do not work on location {event['location']}.",
                )
                continue
            if unknown:
                results[index].update(
                    code="invalid_request",
                    fields=unknown,
                    detail=" ".join(m for v in unknown.values() for m in v),
                )
                continue
            inbound.append(
                (
                    index,
                    InboundEvent(
                        source=event["source"],
                        event_id=event["event_id"],
                        type=event["type"],
                        product=products[event["sku"]],
                        location=locations[event["location"]],
                        quantity=event["quantity"],
                        sequence=event.get("sequence"),
                        occurred_at=event.get("occurred_at"),
                    ),
                )
            )
        outcomes = feed_events_apply(
            merchant=request.merchant, events=[e for _, e in inbound], actor=request.actor
        )
        for (index, _), outcome in zip(inbound, outcomes, strict=True):
            results[index].update(
                outcome=outcome.outcome,
                code=outcome.code,
                detail=outcome.detail,
                ledger_ids=outcome.ledger_ids,
            )
        tally = Counter(result["outcome"] for result in results)
        body = {name: tally.get(name, 0) for name in ("applied", "duplicate", "stale", "rejected")}
        response = Response({**body, "results": results}, status=status.HTTP_200_OK)
        claim_and_remember(request, key, fingerprint, "POST events", response)
        return response

    def _queue(self, request, key: str, fingerprint: str, results, valid) -> Response:
        """Queue the valid events (202 with the batch id); the invalid ones are rejected now."""
        for index, _ in valid:
            results[index]["outcome"] = "queued"
        tally = Counter(result["outcome"] for result in results)
        answer = {
            **{name: tally.get(name, 0) for name in ("applied", "duplicate", "stale", "rejected")},
            "queued": len(valid),
            "results": results,
        }
        if not valid:
            return Response(answer, status=status.HTTP_200_OK)  # nothing to queue
        batch_id = feed_batch_enqueue(
            merchant=request.merchant,
            events=[QueuedEvent(index=index, **event) for index, event in valid],
            actor=request.actor,
            location_scope=request.location_scope,
            idempotency_key=key,
            fingerprint=fingerprint,
            answer=answer,
        )
        where = reverse("v1:events-queued", kwargs={"batch_id": batch_id})
        return Response(
            {**answer, "batch_id": batch_id},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": where},
        )


class QueuedBatchView(MerchantAPIView):
    @extend_schema(
        operation_id="events_queued_retrieve",
        responses=s.QueuedBatchSerializer,
        tags=["events"],
        description="A batch accepted with 202 while the database was unreachable: `queued` "
        "until it is applied, then `applied` with each event's outcome.",
    )
    def get(self, request, batch_id: str):
        batch = feed_batch_status(merchant=request.merchant, batch_id=batch_id)
        if batch is None:
            raise exceptions.NotFound(f"No queued event batch {batch_id}.")
        if isinstance(batch, QueuedFeedBatch):
            return Response(s.QueuedBatchSerializer({"status": "applied", "batch": batch}).data)
        return Response(s.QueuedBatchSerializer({"status": "queued", "id": batch_id}).data)


def _validated(raw: list) -> tuple[list[dict[str, Any]], list[tuple[int, dict]]]:
    """Each event checked on its own, without the database: the result rows (invalid events
    rejected with why) and the valid events by index."""
    results: list[dict[str, Any]] = []
    valid: list[tuple[int, dict]] = []
    for index, item in enumerate(raw):
        event = s.EventSerializer(data=item)
        result = {
            "index": index,
            "source": _text(item.get("source")),
            "event_id": _text(item.get("event_id")),
            "outcome": "rejected",
            "code": "",
            "detail": "",
            "fields": {},
            "ledger_ids": [],
        }
        results.append(result)
        if event.is_valid():
            valid.append((index, dict(event.validated_data)))
        else:
            fields = flatten_errors(event.errors)
            result.update(
                code="invalid_request",
                fields=fields,
                detail="; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()),
            )
    return results, valid


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
