"""Celery tasks of the stock engine. A reservation expires through one conditional UPDATE that
only one caller can win, so the task is safe to run twice or on two workers at once."""

from celery import shared_task

from apps.inventory.services import reservation_expire_due


# The name predates the task's move to this app: beat's rows and queued messages use it.
@shared_task(name="events.reservations_expire_due", ignore_result=True)
def reservations_expire_due() -> int:
    """Release the stock of every reservation whose TTL has passed."""
    return reservation_expire_due()
