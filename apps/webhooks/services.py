"""Partner webhook deliveries: queued in the database, sent after commit, retried with
exponential backoff, and the endpoint disabled after repeated failures (the
`endpoint_disabled` hook tells its subscribers, such as alerts).

Deliveries for outbox events are created inside the dispatcher's transaction, so they exist
exactly when the event is marked published. The HTTP call always happens outside any
transaction: an attempt is claimed with a conditional UPDATE (one worker wins), sent, then
its outcome recorded.
"""

from __future__ import annotations

import functools
import http.client
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.core.hooks import Hook
from apps.observability import metrics
from apps.webhooks.models import PING_EVENT, WebhookDelivery, WebhookEndpoint
from apps.webhooks.signing import SIGNATURE_HEADER, signature_header
from apps.webhooks.targets import WebhookTargetRefused, webhook_target_resolve

logger = logging.getLogger(__name__)
Status = WebhookDelivery.Status
RESPONSE_EXCERPT = 2000
DELIVER_TASK = "webhooks.deliver"

# Sent (in the caller's transaction) when an endpoint is switched off, with `endpoint` and
# `reason`, and when it is switched back on, with `endpoint`.
endpoint_disabled = Hook("webhook endpoint disabled")
endpoint_enabled = Hook("webhook endpoint enabled")


@dataclass(frozen=True)
class Policy:
    timeout: float
    max_attempts: int
    backoff_base: float
    backoff_max: float
    disable_after: int
    lease: float

    @classmethod
    def current(cls) -> Policy:
        return cls(
            timeout=settings.STOCKROOM_WEBHOOK_TIMEOUT_SECONDS,
            max_attempts=settings.STOCKROOM_WEBHOOK_MAX_ATTEMPTS,
            backoff_base=settings.STOCKROOM_WEBHOOK_BACKOFF_SECONDS,
            backoff_max=settings.STOCKROOM_WEBHOOK_BACKOFF_MAX_SECONDS,
            disable_after=settings.STOCKROOM_WEBHOOK_DISABLE_AFTER_FAILURES,
            lease=settings.STOCKROOM_WEBHOOK_TIMEOUT_SECONDS * 4 + 30,
        )


def backoff_delay(attempts: int, policy: Policy) -> timedelta:
    """Delay before the next attempt after `attempts` failed ones: base * 2^(attempts-1)."""
    return timedelta(
        seconds=min(policy.backoff_base * 2 ** max(attempts - 1, 0), policy.backoff_max)
    )


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


# --- Creating deliveries ----------------------------------------------------------------


def _endpoints_by_merchant(merchant_ids: Iterable[int]) -> dict[int, list[WebhookEndpoint]]:
    by_merchant: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    for endpoint in WebhookEndpoint.objects.filter(
        merchant_id__in=set(merchant_ids), is_active=True
    ):
        by_merchant[endpoint.merchant_id].append(endpoint)
    return by_merchant


def _delivery(
    endpoint: WebhookEndpoint, document: dict[str, Any], event_key: str
) -> WebhookDelivery:
    now = timezone.now()
    return WebhookDelivery(
        endpoint=endpoint,
        merchant_id=endpoint.merchant_id,
        event_type=document["type"],
        event_key=event_key,
        payload=document,
        next_attempt_at=now,
        created_at=now,
    )


def _document(merchant_id: int, event_type: str, event_key: str, data: dict) -> dict[str, Any]:
    """The envelope of an event that is not in the outbox (a ping; the same shape as outbox
    events)."""
    return {
        "id": event_key, "type": event_type, "merchant_id": merchant_id,
        "occurred_at": timezone.now().isoformat(), "data": data,
    }  # fmt: skip


def _create(deliveries: Sequence[WebhookDelivery]) -> list[int]:
    """Insert deliveries (an event already queued for an endpoint is skipped) and queue their
    first attempt after commit. Returns the ids of the new deliveries."""
    if not deliveries:
        return []
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    ids = list(
        WebhookDelivery.objects.filter(
            endpoint_id__in={d.endpoint_id for d in deliveries},
            event_key__in={d.event_key for d in deliveries},
            attempts=0,
            status=Status.PENDING,
        ).values_list("pk", flat=True)
    )
    transaction.on_commit(functools.partial(_queue_attempts, ids), robust=True)
    return ids


def webhook_deliveries_create(documents: Sequence[dict[str, Any]]) -> list[int]:
    """Deliveries of published outbox events to every active endpoint subscribed to them."""
    endpoints = _endpoints_by_merchant(d["merchant_id"] for d in documents)
    return _create(
        [
            _delivery(endpoint, document, f"event:{document['id']}")
            for document in documents
            for endpoint in endpoints.get(document["merchant_id"], [])
            if endpoint.subscribes_to(document["type"])
        ]
    )


def webhook_ping(*, endpoint: WebhookEndpoint) -> int:
    """Send a test event to one endpoint, whatever it subscribes to. Returns the delivery id."""
    key = f"ping:{uuid.uuid4()}"
    delivery = _delivery(
        endpoint, _document(endpoint.merchant_id, PING_EVENT, key, {"endpoint": endpoint.name}), key
    )
    delivery.save()
    transaction.on_commit(functools.partial(_queue_attempts, [delivery.pk]), robust=True)
    return delivery.pk


def _queue_attempts(delivery_ids: Sequence[int]) -> None:
    """Queue one attempt per delivery (embedded: make it here); what cannot be queued is picked
    up by the retry sweep."""
    for delivery_id in delivery_ids:
        try:
            if settings.STOCKROOM_EMBEDDED:
                webhook_deliver_attempt(delivery_id=delivery_id)
            else:
                current_app.send_task(DELIVER_TASK, (delivery_id,), retry=False)
        except Exception:
            logger.warning("Could not queue webhook delivery %s", delivery_id, exc_info=True)


# --- Attempts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    body: str
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _post(endpoint: WebhookEndpoint, delivery: WebhookDelivery, timeout: float) -> Outcome:
    """One signed POST to the endpoint's checked address (see apps.webhooks.targets). A target
    that is refused is never contacted; a redirect is an answer, never followed: a signed POST
    must reach the configured URL and nothing else."""
    try:
        target = webhook_target_resolve(endpoint.url)
    except WebhookTargetRefused as refused:
        return Outcome(None, "", f"Refused: {refused}"[:500])
    body = body_bytes(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Stockroom-Webhooks/1",
        SIGNATURE_HEADER: signature_header(endpoint.secret, body),
        "Stockroom-Event": delivery.event_type,
        "Stockroom-Event-Id": delivery.event_key,
        "Stockroom-Delivery": str(delivery.pk),
        "Stockroom-Attempt": str(delivery.attempts),
    }
    connection = target.connection(timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = _excerpt(response.read(RESPONSE_EXCERPT))
    except (OSError, http.client.HTTPException, ValueError) as error:
        return Outcome(None, "", f"{type(error).__name__}: {error}"[:500])
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return Outcome(response.status, excerpt, "")
    if 300 <= response.status < 400:
        return Outcome(
            response.status, excerpt, f"HTTP {response.status}: redirects are not followed"
        )
    return Outcome(response.status, excerpt, f"HTTP {response.status}")


def _excerpt(raw: bytes) -> str:
    return raw[:RESPONSE_EXCERPT].decode("utf-8", errors="replace")


def _claim(delivery_id: int, now: datetime, policy: Policy) -> WebhookDelivery | None:
    """Take the next attempt of a due delivery: of concurrent callers exactly one updates the
    row. The lease pushes `next_attempt_at` ahead, so an attempt lost with its worker is
    retried once the lease runs out.

    The UPDATE filters on the delivery's own columns only: PostgreSQL re-checks those against
    the row a concurrent claimer committed, which a join or subquery condition would not be.
    """
    delivery = (
        WebhookDelivery.objects.select_related("endpoint")
        .filter(pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now)
        .first()
    )
    if delivery is None or not delivery.endpoint.is_active:
        return None
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now
    ).update(
        attempts=F("attempts") + 1,
        last_attempt_at=now,
        next_attempt_at=now + timedelta(seconds=policy.lease),
    )
    if not claimed:
        return None
    delivery.refresh_from_db(fields=["attempts", "last_attempt_at", "next_attempt_at"])
    return delivery


def webhook_deliver_attempt(*, delivery_id: int) -> str | None:
    """Make one attempt if the delivery is due. Returns the resulting status, or None when
    there was nothing to do (delivered already, not due, endpoint disabled)."""
    policy = Policy.current()
    delivery = _claim(delivery_id, timezone.now(), policy)
    if delivery is None:
        return None
    outcome = _post(delivery.endpoint, delivery, policy.timeout)
    return _record(delivery, outcome, policy)


def _record(delivery: WebhookDelivery, outcome: Outcome, policy: Policy) -> str:
    now = timezone.now()
    fields: dict[str, Any] = {
        "response_code": outcome.status_code,
        "response_body": outcome.body,
        "last_error": outcome.error,
    }
    if outcome.ok:
        fields.update(status=Status.SUCCEEDED, delivered_at=now)
    elif delivery.attempts >= policy.max_attempts:
        fields.update(status=Status.FAILED)
    else:
        fields.update(next_attempt_at=now + backoff_delay(delivery.attempts, policy))
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
        if outcome.ok:
            WebhookEndpoint.objects.filter(
                pk=delivery.endpoint_id, consecutive_failures__gt=0
            ).update(consecutive_failures=0)
        else:
            _count_failure(delivery.endpoint, outcome, policy)
    if not outcome.ok:
        metrics.count("webhook_failures")  # after the transaction: never raises (fails soft)
    return fields.get("status", Status.PENDING)


def _count_failure(endpoint: WebhookEndpoint, outcome: Outcome, policy: Policy) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    failures = WebhookEndpoint.objects.values_list("consecutive_failures", flat=True).get(
        pk=endpoint.pk
    )
    if failures >= policy.disable_after:
        webhook_endpoint_disable(
            endpoint=endpoint,
            reason=f"{failures} consecutive failed deliveries; last: {outcome.error or outcome.status_code}",
        )


def webhook_endpoint_disable(*, endpoint: WebhookEndpoint, reason: str) -> bool:
    """Switch an endpoint off and send `endpoint_disabled`. False when it was off already."""
    now = timezone.now()
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_at=now, disabled_reason=reason[:300], updated_at=now
    )
    if changed:
        logger.warning("Webhook endpoint %s disabled: %s", endpoint.pk, reason)
        endpoint_disabled.send(endpoint=endpoint, reason=reason)
    return bool(changed)


def webhook_endpoint_enable(*, endpoint: WebhookEndpoint) -> bool:
    """Switch an endpoint back on (its pending deliveries are retried by the sweep) and send
    `endpoint_enabled`."""
    now = timezone.now()
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=False).update(
        is_active=True, consecutive_failures=0, disabled_at=None, disabled_reason="", updated_at=now
    )
    if changed:
        endpoint_enabled.send(endpoint=endpoint)
    return bool(changed)


def webhook_delivery_retry_now(*, delivery: WebhookDelivery) -> bool:
    """Make a pending or failed delivery due now (an admin's "retry")."""
    now = timezone.now()
    changed = WebhookDelivery.objects.filter(
        pk=delivery.pk, status__in=[Status.PENDING, Status.FAILED]
    ).update(status=Status.PENDING, next_attempt_at=now)
    if changed:
        transaction.on_commit(functools.partial(_queue_attempts, [delivery.pk]), robust=True)
    return bool(changed)


def webhook_retry_due(*, limit: int = 500) -> int:
    """Queue an attempt for every due pending delivery of an active endpoint. Returns how many
    were queued (each attempt is claimed, so queuing one twice sends it once)."""
    due = list(
        WebhookDelivery.objects.filter(
            status=Status.PENDING, next_attempt_at__lte=timezone.now(), endpoint__is_active=True
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    _queue_attempts(due)
    return len(due)


def webhook_deliveries_prune(*, older_than: timedelta | None = None) -> int:
    """Delete finished (succeeded or failed) deliveries older than the retention period."""
    if older_than is None:
        older_than = timedelta(days=settings.STOCKROOM_EVENT_RETENTION_DAYS)
    return WebhookDelivery.objects.filter(
        status__in=[Status.SUCCEEDED, Status.FAILED],
        created_at__lt=timezone.now() - older_than,
    ).delete()[0]
