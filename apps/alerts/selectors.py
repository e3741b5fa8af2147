"""Reads of alerts, and their public JSON shape (websocket pushes, webhooks, dashboard)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db.models import QuerySet

from apps.alerts.models import Alert
from apps.core.errors import ObjectNotFound


def alert_document(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "status": alert.status,
        "merchant_id": alert.merchant_id,
        "stock_level_id": alert.stock_level_id,
        "product_id": alert.product_id,
        "sku": alert.product.sku if alert.product_id else None,
        "location_id": alert.location_id,
        "location": alert.location.code if alert.location_id else None,
        "message": alert.message,
        "threshold": alert.threshold,
        "available": alert.available,
        "reorder_quantity": alert.reorder_quantity,
        "details": alert.details,
        "triggered_at": alert.triggered_at.isoformat(),
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


def alert_get(alert_id: int) -> Alert | None:
    return (
        Alert.objects.select_related("merchant", "product", "location").filter(pk=alert_id).first()
    )


def open_alerts(
    *, merchant_id: int, location_ids: Collection[int] | None = None, limit: int = 100
) -> QuerySet[Alert]:
    """Triggered and acknowledged alerts of a merchant, newest first. With `location_ids`,
    only alerts about those locations (plus merchant-wide ones such as ledger drift elsewhere
    are left out: they concern the whole merchant, not a warehouse floor)."""
    alerts = Alert.objects.select_related("product", "location").filter(
        merchant_id=merchant_id, status__in=Alert.OPEN_STATUSES
    )
    if location_ids is not None:
        alerts = alerts.filter(location_id__in=list(location_ids))
    return alerts.order_by("-triggered_at", "-id")[:limit]


def alert_list(
    *,
    merchant_id: int,
    kind: str = "",
    status: str = "",
    is_open: bool | None = None,
    sku: str = "",
    location: str = "",
) -> QuerySet[Alert]:
    """A merchant's alerts, newest first, filtered by kind, status, open (triggered or
    acknowledged) or not, product SKU and location code."""
    alerts = Alert.objects.select_related("product", "location", "acknowledged_by").filter(
        merchant_id=merchant_id
    )
    if kind:
        alerts = alerts.filter(kind=kind)
    if status:
        alerts = alerts.filter(status=status)
    if is_open is not None:
        open_q = {"status__in": Alert.OPEN_STATUSES}
        alerts = alerts.filter(**open_q) if is_open else alerts.exclude(**open_q)
    if sku:
        alerts = alerts.filter(product__sku=sku)
    if location:
        alerts = alerts.filter(location__code=location)
    return alerts.order_by("-triggered_at", "-id")


def alert_of_merchant(*, merchant_id: int, alert_id: int) -> Alert:
    """One alert of the merchant, or ObjectNotFound (another merchant's alerts do not exist)."""
    alert = alert_list(merchant_id=merchant_id).filter(pk=alert_id).first()
    if alert is None:
        raise ObjectNotFound(f"Alert {alert_id} not found.", alert=alert_id)
    return alert
