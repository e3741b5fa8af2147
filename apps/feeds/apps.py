from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "apps.feeds"
    verbose_name = "Feeds and bulk imports"

    def ready(self) -> None:
        # Imported here, not at the top: these modules import models, which Django loads only
        # once every app is registered.
        from apps.core.schedule import Periodic, periodic_register
        from apps.feeds.services.queue import feed_queue_drain

        periodic_register(
            Periodic(
                name="Apply queued feed events",
                task="feeds.queue_drain",
                run=feed_queue_drain,
                every_seconds=5,
                description="Applies the POS and supplier events accepted while the database "
                "was unreachable, in the order received, once it is back.",
            )
        )
