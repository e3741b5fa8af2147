"""Reads of alerts, and their public JSON shape (websocket pushes, webhooks, dashboard)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db.models import QuerySet

from apps.alerts.models import Alert


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
