"""The outbox dispatcher: publishes committed events to websocket groups and partner webhooks,
each as its topic says (apps.inventory.outbox), then tells the `published` hook's subscribers.

Rows are claimed with `SELECT ... FOR UPDATE SKIP LOCKED`, published, and marked published in
one transaction, so two dispatchers never publish the same row and a crash before the commit
leaves the rows to the next run (delivery is at least once; consumers drop what they already
have by event id and stock version). No stock row is locked here.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from celery import current_app
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.core import embedded_scheduler
from apps.core.hooks import Hook
from apps.events.groups import CHANNEL_LAYER_DOWN, groups_for
from apps.events.selectors import event_document, event_location_id
from apps.inventory.models import OutboxEvent
from apps.inventory.outbox import topic_of
from apps.webhooks import services as webhooks

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
MAX_BATCHES = 20
# Set while a dispatch task is queued, so a burst of commits enqueues one task, not thousands.
DISPATCH_QUEUED_KEY = "outbox:dispatch-queued"  # under the cache's deployment prefix
DISPATCH_QUEUED_TTL = 30
DISPATCH_TASK = "events.outbox_dispatch"

# Sent after each published batch, outside its transaction, with the batch's documents: for
# subscribers that derive work from events (low-stock alerts). One that fails is logged; the
# periodic jobs catch up.
published = Hook("outbox events published")


def outbox_dispatch_soon() -> None:
    """Ask for pending events to be published now. Cheap, and never raises: the periodic sweep
    publishes anything a failed request leaves behind.

    With a broker it queues one `outbox_dispatch` task (debounced through the cache); on the
    embedded defaults it wakes the in-process scheduler thread.
    """
    try:
        if settings.STOCKROOM_EMBEDDED:
            embedded_scheduler.wake()
            return
        if cache.add(DISPATCH_QUEUED_KEY, 1, timeout=DISPATCH_QUEUED_TTL):
            current_app.send_task(DISPATCH_TASK, retry=False)
    except Exception:
        logger.warning("Could not queue the outbox dispatch; the sweep will publish", exc_info=True)
        with contextlib.suppress(Exception):  # the cache is down too: the key expires by itself
            cache.delete(DISPATCH_QUEUED_KEY)


def outbox_dispatch_started() -> None:
    """Called by the dispatch task before it claims rows: a commit from now on queues again."""
    cache.delete(DISPATCH_QUEUED_KEY)


def publish_to_groups(documents: list[dict[str, Any]]) -> None:
    """Send the event documents of streamed topics, in order, to their merchant's group and
    their location's group, as their topic's message type (one event loop and one Redis
    connection for the whole batch)."""
    layer = get_channel_layer()
    streamed = [(topic_of(d["type"]).stream, d) for d in documents if topic_of(d["type"]).stream]
    if layer is None or not streamed:
        return

    async def send_all() -> None:
        for message_type, document in streamed:
            message = {"type": message_type, "event": document}
            for group in groups_for(document["merchant_id"], event_location_id(document)):
                await layer.group_send(group, message)

    async_to_sync(send_all)()


def outbox_publish_pending(*, batch_size: int = BATCH_SIZE, max_batches: int = MAX_BATCHES) -> int:
    """Publish unpublished events, oldest first, in batches, until none is left: the events
    that subscribers write while a batch goes out (an alert raised by it) go out in the same
    run. Returns how many this call published. Safe to run concurrently and repeatedly."""
    published = 0
    for _ in range(max_batches):
        count = _publish_batch(batch_size)
        published += count
        if count == 0:
            break
    return published


def _publish_batch(batch_size: int) -> int:
    with transaction.atomic():
        events = list(
            OutboxEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("merchant", "ledger_entry__product", "ledger_entry__location")
            .filter(published_at__isnull=True)
            .order_by("id")[:batch_size]
        )
        if not events:
            return 0
        documents = [event_document(event) for event in events]
        try:
            publish_to_groups(documents)
        except CHANNEL_LAYER_DOWN:
            # Redis is away: leave the batch (and its webhooks) pending for the run after it
            # returns, rather than mark published events that no live subscriber was sent.
            logger.warning("Channel layer unreachable; events from %s stay pending", events[0].pk)
            return 0
        except Exception:  # live viewers resume from the outbox; webhooks must still go out
            logger.exception("Publishing events %s.. to websocket groups failed", events[0].pk)
        webhooks.webhook_deliveries_create([d for d in documents if topic_of(d["type"]).partners])
        OutboxEvent.objects.filter(pk__in=[event.pk for event in events]).update(
            published_at=timezone.now()
        )
    published.send_robust(documents=documents)
    return len(events)


def outbox_prune(*, older_than: timedelta | None = None, batch_size: int = 5000) -> int:
    """Delete events published longer ago than the retention period (default
    STOCKROOM_EVENT_RETENTION_DAYS); unpublished events are never deleted. Streams cannot
    resume from before the oldest event kept. Returns how many were deleted."""
    if older_than is None:
        older_than = timedelta(days=settings.STOCKROOM_EVENT_RETENTION_DAYS)
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        ids = list(
            OutboxEvent.objects.filter(published_at__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        deleted += OutboxEvent.objects.filter(pk__in=ids).delete()[0]
