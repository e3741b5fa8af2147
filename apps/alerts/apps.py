from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "apps.alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from apps.alerts.services import ledger_verify, low_stock_scan
        from apps.core import embedded_scheduler

        embedded_scheduler.register(low_stock_scan, every=300)
        embedded_scheduler.register(ledger_verify, every=24 * 3600)
