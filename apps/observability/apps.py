from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "apps.observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from apps.observability import celery_hooks

        celery_hooks.connect()
