"""Reads behind the live dashboard: which merchants and locations a user may watch, and the
snapshot (stock table, recent movements, open alerts) the page starts from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from apps.alerts.selectors import alert_document, open_alerts
from apps.events.access import StreamAccess, stream_access
from apps.events.selectors import latest_event_id
from apps.inventory.models import LedgerEntry, StockLevel
from apps.locations.models import Location
from apps.merchants.models import Membership, Merchant

MOVEMENTS_SHOWN = 25


def dashboard_merchants(user: Any) -> QuerySet[Merchant]:
    """Merchants the user may watch: those they belong to (every merchant for superusers)."""
    merchants = Merchant.objects.filter(is_active=True)
    if not user.is_superuser:
        merchants = merchants.filter(
            pk__in=Membership.objects.filter(user=user).values("merchant_id")
        )
    return merchants.order_by("name")


def dashboard_access(user: Any, merchant: Merchant) -> StreamAccess | None:
    return stream_access(user=user, api_key=None, merchant=str(merchant.pk))


def dashboard_locations(access: StreamAccess) -> QuerySet[Location]:
    locations = Location.objects.filter(merchant_id=access.merchant_id)
    if access.location_ids is not None:
        locations = locations.filter(pk__in=access.location_ids)
    return locations.order_by("priority", "code")


@dataclass(frozen=True)
class Snapshot:
    since: int
    rows: list[dict[str, Any]]
    movements: list[dict[str, Any]]
    alerts: list[dict[str, Any]]


def dashboard_snapshot(*, merchant_id: int, location: Location) -> Snapshot:
    """The page's starting point. The event id is read first: a stream resumed from it replays
    anything that commits while the rest is read (the page drops what it already shows)."""
    since = latest_event_id(merchant_id)
    levels = (
        StockLevel.objects.with_buckets()
        .filter(merchant_id=merchant_id, location=location)
        .select_related("product")
        .order_by("product__sku")
    )
    rows = [
        {
            "stock_level_id": level.pk,
            "sku": level.product.sku,
            "product_name": level.product.name,
            "on_hand": level.on_hand,
            "reserved": level.held,
            "available": level.available,
            "in_transit": level.in_transit,
            "damaged": level.damaged,
            "threshold": level.low_stock_threshold,
            "version": level.version,
        }
        for level in levels
    ]
    entries = (
        LedgerEntry.objects.filter(merchant_id=merchant_id, location=location)
        .select_related("product")
        .order_by("-id")[:MOVEMENTS_SHOWN]
    )
    movements = [
        {
            "ledger_id": entry.pk,
            "sku": entry.product.sku,
            "reason": entry.reason,
            "on_hand_delta": entry.on_hand_delta,
            "reserved_delta": entry.reserved_delta,
            "on_hand": entry.on_hand_after,
            "at": entry.created_at.isoformat(),
        }
        for entry in entries
    ]
    alerts = [
        alert_document(alert)
        for alert in open_alerts(merchant_id=merchant_id, location_ids=[location.pk])
    ]
    return Snapshot(since=since, rows=rows, movements=movements, alerts=alerts)
