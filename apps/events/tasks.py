"""Celery tasks of the outbox. Each is safe to run twice or on two workers at once: the outbox
is claimed with SKIP LOCKED."""

from celery import shared_task

from apps.events.services import (
    BATCH_SIZE,
    DISPATCH_TASK,
    MAX_BATCHES,
    outbox_dispatch_soon,
    outbox_dispatch_started,
    outbox_prune,
    outbox_publish_pending,
)
from apps.webhooks.services import webhook_deliveries_prune


@shared_task(name=DISPATCH_TASK, ignore_result=True)
def outbox_dispatch() -> int:
    """Publish pending events now (queued after each commit that wrote any)."""
    outbox_dispatch_started()
    published = outbox_publish_pending()
    if published == BATCH_SIZE * MAX_BATCHES:
        outbox_dispatch_soon()  # a backlog: carry on in a fresh task rather than wait
    return published


@shared_task(name="events.outbox_sweep", ignore_result=True)
def outbox_sweep() -> int:
    """Publish whatever a crash or a lost task left behind."""
    return outbox_publish_pending()


@shared_task(name="events.prune", ignore_result=True)
def prune() -> dict[str, int]:
    """Delete published events and finished webhook deliveries past their retention."""
    return {"events": outbox_prune(), "deliveries": webhook_deliveries_prune()}
