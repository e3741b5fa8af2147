"""Celery tasks of the feeds. Each is safe to run twice or on two workers at once."""

from celery import shared_task

from apps.feeds.services.queue import feed_queue_drain


@shared_task(name="feeds.queue_drain", ignore_result=True)
def queue_drain() -> int:
    """Apply the feed batches queued while the database was unreachable (one drainer at a
    time; a failure leaves them queued for the next run)."""
    return feed_queue_drain()
