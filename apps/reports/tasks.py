"""Celery tasks of the reports app. Each calls one service and is safe to run twice."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from apps.reports import services


@shared_task
def snapshot_take_daily() -> int:
    """Snapshot yesterday's closing stock (UTC). Schedule once a day, shortly after midnight."""
    return services.snapshot_take(day=timezone.now().date() - timedelta(days=1))


@shared_task(name=services.IMPORT_TASK)
def import_run(batch_id: str) -> None:
    services.import_run(batch_id=batch_id)


@shared_task
def import_read(batch_id: str) -> str | None:
    """Read and validate an uploaded import file (queued by the upload)."""
    return services.import_read(batch_id=batch_id)


@shared_task
def import_read_waiting() -> int:
    """Read uploads whose task was lost (queued a minute ago and still waiting)."""
    return services.import_read_waiting(older_than=timedelta(minutes=1))
