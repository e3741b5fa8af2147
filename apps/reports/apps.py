from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "apps.reports"
    verbose_name = "Reports and imports"

    def ready(self) -> None:
        from apps.core import embedded_scheduler
        from apps.reports.services import import_read_waiting

        # Without a broker, uploads are read in the scheduler's thread as soon as they arrive.
        embedded_scheduler.register(import_read_waiting, every=5, on_wake=True)
