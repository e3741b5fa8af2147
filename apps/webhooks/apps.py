from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    verbose_name = "Partner webhooks"

    def ready(self) -> None:
        from apps.core import embedded_scheduler
        from apps.webhooks.services import webhook_retry_due

        embedded_scheduler.register(webhook_retry_due, every=30)
