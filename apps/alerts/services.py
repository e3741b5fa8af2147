"""Raising, acknowledging and resolving alerts.

Low-stock alerts are evaluated from the current stock row, after the stock change committed
(by the outbox dispatcher) and periodically by `low_stock_scan` as a safety net. A partial
unique constraint allows one open alert per subject, so an episode is alerted once however
many evaluators race; replenishing above the threshold resolves it, and the next drop is a
new episode.

Every change of an alert writes, in its transaction, the outbox rows that take it to the live
dashboards (alert.<event>) and, for low stock, to partner webhooks (stock.low,
stock.replenished); the listeners (log, email) run after commit. Alerts hear of stock changes
and of disabled webhook endpoints through hooks connected in AlertsConfig.ready().
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.accounts.models import User
from apps.alerts.listeners import notify_listeners
from apps.alerts.models import Alert
from apps.alerts.selectors import alert_document, alert_get
from apps.core.errors import InvalidState
from apps.inventory.ledger_replay import find_drift
from apps.inventory.models import StockLevel, low_stock_q
from apps.inventory.outbox import (
    ALERT_ACKNOWLEDGED,
    ALERT_RESOLVED,
    ALERT_TRIGGERED,
    STOCK_LOW,
    STOCK_REPLENISHED,
    STOCK_TOPICS,
    outbox_append,
)
from apps.observability.services import ledger_verification_record
from apps.webhooks.models import WebhookEndpoint

logger = logging.getLogger(__name__)
Kind, Status = Alert.Kind, Alert.Status
SCAN_CHUNK = 500
NOTIFY_TASK = "alerts.notify"
# The outbox topic of each alert event on the live dashboards.
STREAM_TOPICS = {
    "triggered": ALERT_TRIGGERED,
    "acknowledged": ALERT_ACKNOWLEDGED,
    "resolved": ALERT_RESOLVED,
}
# The partners' topic for an alert event, where they have one (their webhooks subscribe to it).
PARTNER_TOPICS = {
    (Kind.LOW_STOCK, "triggered"): STOCK_LOW,
    (Kind.LOW_STOCK, "resolved"): STOCK_REPLENISHED,
}
# Kinds that resolve themselves (low stock: when available rises above the threshold), never by
# hand: resolved by hand, they would only be raised again at the next evaluation.
RESOLVED_BY_STOCK = (Kind.LOW_STOCK,)


def low_stock_subject(level_id: int) -> str:
    return f"low_stock:level:{level_id}"


def is_low(level: StockLevel) -> bool:
    """A level alerts when it is low (`StockLevel.is_low`: a threshold above 0, which turns
    alerts off, and available at or below it). Inactive products do not alert."""
    return level.is_low and level.product.is_active


def reorder_quantity(level: StockLevel) -> int:
    """Units to order. With a max level: fill on hand (counting units in transit) up to it, so
    the receipt is never refused. Otherwise: bring available (counting units in transit) up to
    the reorder point, or just above the threshold when no reorder point is set."""
    if level.max_level is not None:
        return max(level.max_level - level.on_hand - level.in_transit, 0)
    target = max(level.reorder_point, level.low_stock_threshold + 1)
    return max(target - level.available - level.in_transit, 0)


def _announce(alert_id: int, event: str) -> None:
    """In the transaction that changed the alert: its outbox rows, for the dashboards and (where
    they have a topic for it) the partners; its listeners once that commits."""
    alert = alert_get(alert_id)
    document = alert_document(alert)
    outbox_append(merchant_id=alert.merchant_id, topic=STREAM_TOPICS[event], payload=document)
    partner_topic = PARTNER_TOPICS.get((alert.kind, event))
    if partner_topic is not None:
        outbox_append(merchant_id=alert.merchant_id, topic=partner_topic, payload=document)
    transaction.on_commit(functools.partial(_queue_notification, alert_id, event), robust=True)


def _queue_notification(alert_id: int, event: str) -> None:
    """Listeners run in their own task, so a slow mail server never delays event publishing;
    without a broker (or when it is unreachable) they run here."""
    if not settings.STOCKROOM_EMBEDDED:
        try:
            current_app.send_task(NOTIFY_TASK, (alert_id, event), retry=False)
            return
        except Exception:
            logger.warning("Could not queue alert %s notification", alert_id, exc_info=True)
    alert_notify_listeners(alert_id=alert_id, event=event)


def alert_notify_listeners(*, alert_id: int, event: str) -> None:
    """Tell every configured listener (see apps.alerts.listeners) about an alert event."""
    alert = alert_get(alert_id)
    if alert is not None:
        notify_listeners(alert, event)


def alert_raise(
    *, merchant_id: int, kind: str, subject: str, message: str, **fields: Any
) -> Alert | None:
    """Open an alert, or return None when one is already open for `subject`."""
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                merchant_id=merchant_id,
                kind=kind,
                subject=subject,
                message=message[:500],
                triggered_at=timezone.now(),
                **fields,
            )
            _announce(alert.pk, "triggered")
    except IntegrityError as error:
        if "alert_one_open_per_subject" not in str(error):
            raise
        return None
    return alert


def alert_acknowledge(*, alert: Alert, actor: User | None) -> bool:
    """Triggered -> acknowledged. False when the alert was not triggered (any more)."""
    now = timezone.now()
    with transaction.atomic():
        changed = Alert.objects.filter(pk=alert.pk, status=Status.TRIGGERED).update(
            status=Status.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by=actor, updated_at=now
        )
        if changed:
            _announce(alert.pk, "acknowledged")
    return bool(changed)


def alert_resolve(*, alert: Alert, **fields: Any) -> bool:
    """Open -> resolved. False when the alert was resolved already."""
    now = timezone.now()
    with transaction.atomic():
        changed = Alert.objects.filter(pk=alert.pk, status__in=Alert.OPEN_STATUSES).update(
            status=Status.RESOLVED, resolved_at=now, updated_at=now, **fields
        )
        if changed:
            _announce(alert.pk, "resolved")
    return bool(changed)


def alert_acknowledge_requested(*, alert: Alert, actor: User | None) -> Alert:
    """Acknowledge an alert for someone who asked (admin, API) and is told why not: an
    acknowledged alert stays as it is; a resolved one is refused (InvalidState). Returns the
    alert as it is now."""
    if not alert_acknowledge(alert=alert, actor=actor):
        current = alert_get(alert.pk)
        if current.status == Status.RESOLVED:
            raise InvalidState(
                f"Alert {alert.pk} is resolved already: there is nothing to acknowledge.",
                status=current.status,
            )
    return alert_get(alert.pk)


def alert_resolve_requested(*, alert: Alert) -> Alert:
    """Resolve an alert for someone who asked (admin, API): refused (InvalidState) for the
    kinds that resolve themselves (`RESOLVED_BY_STOCK`); a resolved alert stays as it is.
    Returns the alert as it is now."""
    if alert.kind in RESOLVED_BY_STOCK:
        raise InvalidState(
            f"Alert {alert.pk} is a {alert.get_kind_display().lower()} alert: it resolves "
            "itself when stock is replenished above the threshold (receive stock, or lower "
            "the threshold). Acknowledge it meanwhile.",
            status=alert.status,
        )
    alert_resolve(alert=alert)
    return alert_get(alert.pk)


def low_stock_evaluate(*, level_ids: Iterable[int]) -> dict[str, int]:
    """Raise, refresh or resolve the low-stock alerts of these levels from their current
    figures. Returns counts of alerts raised and resolved."""
    ids = sorted(set(level_ids))
    levels = (
        StockLevel.objects.with_buckets().select_related("product", "location").filter(pk__in=ids)
    )
    open_by_level = {
        alert.stock_level_id: alert
        for alert in Alert.objects.filter(
            kind=Kind.LOW_STOCK, status__in=Alert.OPEN_STATUSES, stock_level_id__in=ids
        )
    }
    raised = resolved = 0
    for level in levels:
        alert = open_by_level.get(level.pk)
        if is_low(level):
            if alert is None:
                raised += _raise_low_stock(level) is not None
            elif (alert.available, alert.reorder_quantity) != (
                level.available,
                reorder_quantity(level),
            ):
                Alert.objects.filter(pk=alert.pk).update(
                    available=level.available,
                    reorder_quantity=reorder_quantity(level),
                    threshold=level.low_stock_threshold,
                    updated_at=timezone.now(),
                )
        elif alert is not None:
            resolved += alert_resolve(alert=alert, available=level.available)
    return {"raised": raised, "resolved": resolved}


def low_stock_evaluate_published(*, documents: list[dict[str, Any]]) -> None:
    """Receiver of the outbox dispatcher's `published` hook: evaluate the levels whose figures
    the published events changed."""
    level_ids = {d["data"]["stock_level_id"] for d in documents if d["type"] in STOCK_TOPICS}
    if level_ids:
        low_stock_evaluate(level_ids=level_ids)


def _raise_low_stock(level: StockLevel) -> Alert | None:
    sku, code = level.product.sku, level.location.code
    return alert_raise(
        merchant_id=level.merchant_id,
        kind=Kind.LOW_STOCK,
        subject=low_stock_subject(level.pk),
        message=(
            f"{sku} at {code}: {level.available} available, "
            f"at or below the threshold of {level.low_stock_threshold}"
        ),
        stock_level=level,
        product_id=level.product_id,
        location_id=level.location_id,
        threshold=level.low_stock_threshold,
        available=level.available,
        reorder_quantity=reorder_quantity(level),
    )


def low_stock_scan() -> dict[str, int]:
    """Evaluate every level that is low without an open alert, and every open low-stock alert
    (the safety net behind event-driven evaluation)."""
    open_alert = Alert.objects.filter(
        kind=Kind.LOW_STOCK, status__in=Alert.OPEN_STATUSES, stock_level_id=OuterRef("pk")
    )
    low_unalerted = (
        StockLevel.objects.filter(low_stock_q(), product__is_active=True)
        .exclude(Exists(open_alert))
        .values_list("pk", flat=True)
    )
    alerted = Alert.objects.filter(kind=Kind.LOW_STOCK, status__in=Alert.OPEN_STATUSES).values_list(
        "stock_level_id", flat=True
    )
    candidates = sorted({*low_unalerted, *alerted})
    totals = {"raised": 0, "resolved": 0}
    for start in range(0, len(candidates), SCAN_CHUNK):
        counts = low_stock_evaluate(level_ids=candidates[start : start + SCAN_CHUNK])
        for name, count in counts.items():
            totals[name] += count
    return totals


def ledger_verify() -> int:
    """Replay the ledger; raise a ledger-drift alert per drifting level, resolve the alerts of
    levels that no longer drift. Returns the number of drifting levels."""
    started_at = timezone.now()
    found = find_drift()
    # The /metrics drift gauges read the latest recorded verification.
    ledger_verification_record(started_at=started_at, drifts=found)
    drifts = {drift.stock_level_id: drift for drift in found}
    levels = StockLevel.objects.filter(pk__in=list(drifts)).select_related("product", "location")
    for level in levels:
        drift = drifts[level.pk]
        alert_raise(
            merchant_id=level.merchant_id,
            kind=Kind.LEDGER_DRIFT,
            subject=f"ledger_drift:level:{level.pk}",
            message=f"Ledger drift: {drift.describe()}",
            stock_level=level,
            product_id=level.product_id,
            location_id=level.location_id,
            details={name: list(pair) for name, pair in drift.problems.items()},
        )
    for alert in Alert.objects.filter(
        kind=Kind.LEDGER_DRIFT, status__in=Alert.OPEN_STATUSES
    ).exclude(stock_level_id__in=list(drifts)):
        alert_resolve(alert=alert)
    if drifts:
        logger.error("Ledger verification: %d stock level(s) drift", len(drifts))
    return len(drifts)


def _webhook_disabled_subject(endpoint_id: int) -> str:
    return f"webhook_disabled:endpoint:{endpoint_id}"


def webhook_disabled_alert_raise(*, endpoint: WebhookEndpoint, reason: str) -> None:
    """Receiver of webhooks' `endpoint_disabled` hook: an alert for the merchant."""
    alert_raise(
        merchant_id=endpoint.merchant_id,
        kind=Kind.WEBHOOK_DISABLED,
        subject=_webhook_disabled_subject(endpoint.pk),
        message=f"Webhook endpoint {endpoint.name} ({endpoint.url}) was disabled: {reason}",
        details={"endpoint_id": endpoint.pk, "url": endpoint.url},
    )


def webhook_disabled_alerts_resolve(*, endpoint: WebhookEndpoint) -> None:
    """Receiver of webhooks' `endpoint_enabled` hook: the alert about it is resolved."""
    for alert in Alert.objects.filter(
        subject=_webhook_disabled_subject(endpoint.pk), status__in=Alert.OPEN_STATUSES
    ):
        alert_resolve(alert=alert)
