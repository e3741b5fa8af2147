from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "apps.events"
    verbose_name = "Events and background jobs"

    def ready(self) -> None:
        # Imported here, not at the top: these modules import models, which Django loads only
        # once every app is registered.
        from apps.core import hooks
        from apps.core.schedule import Periodic, periodic_register
        from apps.events import tasks
        from apps.events.services import outbox_dispatch_soon, outbox_publish_pending

        # The engine (and anything else writing outbox rows) fires this after commit.
        hooks.outbox_committed.connect(outbox_dispatch_soon)
        periodic_register(
            Periodic(
                name="Publish the event outbox",
                task="events.outbox_sweep",
                run=outbox_publish_pending,
                every_seconds=10,
                description="Publishes events left unpublished (after a crash or a lost task).",
                on_wake=True,
            )
        )
        periodic_register(
            Periodic(
                name="Prune old events and deliveries",
                task="events.prune",
                run=tasks.prune,
                crontab={"minute": "15", "hour": "3"},
                description="Deletes published events and finished webhook deliveries past "
                "retention.",
            )
        )
