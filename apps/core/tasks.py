"""Celery tasks of the core: housekeeping of what every app shares."""

from celery import shared_task

from apps.core.idempotency import idempotency_prune


@shared_task(name="core.idempotency_prune", ignore_result=True)
def idempotency_records_prune() -> int:
    """Delete idempotency records past STOCKROOM_IDEMPOTENCY_RETENTION_HOURS."""
    return idempotency_prune()
