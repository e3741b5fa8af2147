from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "apps.reports"
    verbose_name = "Reports and imports"

    def ready(self) -> None:
        # Imported here, not at the top: these modules import models, which Django loads only
        # once every app is registered.
        from apps.core.schedule import Periodic, periodic_register
        from apps.reports.tasks import snapshot_take_daily

        periodic_register(
            Periodic(
                name="Daily stock snapshot",
                task="apps.reports.tasks.snapshot_take_daily",
                run=snapshot_take_daily,
                crontab={"minute": "10", "hour": "0"},
                description="Stores yesterday's closing stock per level for the reports.",
            )
        )
