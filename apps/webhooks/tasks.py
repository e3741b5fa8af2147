from celery import shared_task

from apps.webhooks.services import DELIVER_TASK, webhook_deliver_attempt, webhook_retry_due


@shared_task(name=DELIVER_TASK, ignore_result=True)
def webhook_deliver(delivery_id: int) -> str | None:
    """One attempt of one delivery (claimed, so running it twice sends once)."""
    return webhook_deliver_attempt(delivery_id=delivery_id)


@shared_task(name="webhooks.retry_due", ignore_result=True)
def retry_due() -> int:
    """Queue the deliveries whose retry time has come."""
    return webhook_retry_due()
