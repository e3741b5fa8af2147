from celery import shared_task

from apps.alerts.services import NOTIFY_TASK, alert_notify_listeners
from apps.alerts.services import ledger_verify as ledger_verify_service
from apps.alerts.services import low_stock_scan as low_stock_scan_service


@shared_task(name="alerts.low_stock_scan", ignore_result=True)
def low_stock_scan() -> dict[str, int]:
    """Raise and resolve low-stock alerts from current figures (safe to run concurrently)."""
    return low_stock_scan_service()


@shared_task(name="alerts.ledger_verify", ignore_result=True)
def ledger_verify() -> int:
    """Replay the ledger and raise an alert for every drifting stock level."""
    return ledger_verify_service()


@shared_task(name=NOTIFY_TASK, ignore_result=True)
def alert_notify(alert_id: int, event: str) -> None:
    """Run the alert listeners (email, webhooks, websocket push, log) for one alert event."""
    alert_notify_listeners(alert_id=alert_id, event=event)
