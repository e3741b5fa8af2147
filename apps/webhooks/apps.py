from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    verbose_name = "Partner webhooks"

    def ready(self) -> None:
        # Imported here, not at the top: these modules import models, which Django loads only
        # once every app is registered.
        from apps.core.schedule import Periodic, periodic_register
        from apps.webhooks.services import webhook_retry_due

        periodic_register(
            Periodic(
                name="Retry webhook deliveries",
                task="webhooks.retry_due",
                run=webhook_retry_due,
                every_seconds=30,
                description="Sends webhook deliveries whose retry time has come.",
            )
        )
