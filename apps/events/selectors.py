"""Reads of the outbox: the public shape of an event and the replay used to resume streams.

A stock.changed event is built from its ledger row, which is immutable, so building it at
publish time or at replay time gives the same document.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from django.db.models import Max, Q, QuerySet

from apps.inventory.models import LedgerEntry, OutboxEvent
from apps.inventory.outbox import BUCKET_CHANGED, RESUMABLE_TOPICS

REPLAY_LIMIT = 1000


def _base() -> QuerySet[OutboxEvent]:
    return OutboxEvent.objects.select_related(
        "merchant", "ledger_entry__product", "ledger_entry__location"
    )


def stock_figures(entry: LedgerEntry) -> dict[str, Any]:
    """The balances after one ledger entry, in the event and dashboard vocabulary."""
    available = max(entry.on_hand_after - entry.reserved_after - entry.safety_stock_after, 0)
    return {
        "stock_level_id": entry.stock_level_id,
        "product_id": entry.product_id,
        "sku": entry.product.sku,
        "product_name": entry.product.name,
        "location_id": entry.location_id,
        "location": entry.location.code,
        "on_hand": entry.on_hand_after,
        "reserved": entry.reserved_after,
        "available": available,
        "damaged": entry.damaged_after,
        "in_transit": entry.in_transit_after,
        "safety_stock": entry.safety_stock_after,
        "version": entry.version_after,
    }


def event_document(event: OutboxEvent) -> dict[str, Any]:
    """The JSON document published for one outbox row (websockets and webhooks alike)."""
    document: dict[str, Any] = {
        "id": event.pk,
        "type": event.topic,
        "merchant": event.merchant.code,
        "merchant_id": event.merchant_id,
        "occurred_at": event.created_at.isoformat(),
    }
    entry = event.ledger_entry
    if entry is not None:
        data = stock_figures(entry)
        data.update(
            {
                "reason": entry.reason,
                "delta": {
                    "on_hand": entry.on_hand_delta,
                    "reserved": entry.reserved_delta,
                    "damaged": entry.damaged_delta,
                    "in_transit": entry.in_transit_delta,
                },
                "ledger_id": entry.pk,
                "source": entry.source,
                "reference": entry.reference,
            }
        )
        document["data"] = data
    else:
        document["data"] = dict(event.payload)
    return document


def event_location_id(document: dict[str, Any]) -> int | None:
    return document["data"].get("location_id")


def event_documents(events: Iterable[OutboxEvent]) -> list[dict[str, Any]]:
    return [event_document(event) for event in events]


def events_since(
    *,
    merchant_id: int,
    since: int,
    location_ids: Collection[int] | None = None,
    skus: Collection[str] | None = None,
    limit: int = REPLAY_LIMIT,
) -> list[dict[str, Any]]:
    """Events of one merchant with an id above `since`, oldest first, at most `limit`: those of
    the topics a resumed stream replays (stock events; alerts are pushed live only).

    `location_ids` restricts to stock events of those locations (events without a location,
    such as reservation.expired, are only included when every location is wanted); `skus`
    restricts stock events to those SKUs.
    """
    events = (
        _base()
        .filter(merchant_id=merchant_id, id__gt=since, topic__in=RESUMABLE_TOPICS)
        .order_by("id")
    )
    if location_ids is not None:
        events = events.filter(
            Q(ledger_entry__location_id__in=list(location_ids))
            | Q(topic=BUCKET_CHANGED, payload__location_id__in=list(location_ids))
        )
    if skus:
        events = events.filter(
            (Q(ledger_entry__isnull=True) & ~Q(topic=BUCKET_CHANGED))
            | Q(ledger_entry__product__sku__in=skus)
            | Q(topic=BUCKET_CHANGED, payload__sku__in=list(skus))
        )
    return event_documents(events[:limit])


def latest_event_id(merchant_id: int) -> int:
    """The newest event id of a merchant (0 when none): a page rendered from the database is
    current up to this id, so a stream resumed from it misses nothing."""
    return (
        OutboxEvent.objects.filter(merchant_id=merchant_id).aggregate(latest=Max("id"))["latest"]
        or 0
    )
