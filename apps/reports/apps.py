from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "apps.reports"
    verbose_name = "Reports and imports"

    def ready(self) -> None:
        # Imported here, not at the top: these modules import models, which Django loads only
        # once every app is registered.
        from apps.core.schedule import Periodic, periodic_register
        from apps.reports.services import import_read_waiting
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
        # Embedded defaults: an upload wakes the scheduler, which reads it at once.
        periodic_register(
            Periodic(
                name="Read waiting imports",
                task="apps.reports.tasks.import_read_waiting",
                run=import_read_waiting,
                every_seconds=60,
                description="Reads uploaded import files whose reading task was lost.",
                on_wake=True,
            )
        )
