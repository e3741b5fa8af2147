from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "apps.alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        # Imported here, not at the top: these modules import models, which Django loads only
        # once every app is registered.
        from apps.alerts import services
        from apps.core.schedule import Periodic, periodic_register
        from apps.events.services import published
        from apps.webhooks.services import endpoint_disabled, endpoint_enabled

        published.connect(services.low_stock_evaluate_published)
        endpoint_disabled.connect(services.webhook_disabled_alert_raise)
        endpoint_enabled.connect(services.webhook_disabled_alerts_resolve)
        periodic_register(
            Periodic(
                name="Low-stock scan",
                task="alerts.low_stock_scan",
                run=services.low_stock_scan,
                every_seconds=300,
                description="Raises and resolves low-stock alerts missed by event processing.",
            )
        )
        periodic_register(
            Periodic(
                name="Nightly ledger verification",
                task="alerts.ledger_verify",
                run=services.ledger_verify,
                crontab={"minute": "30", "hour": "2"},
                description="Replays the ledger; raises an alert for every stock level that "
                "drifts.",
            )
        )
