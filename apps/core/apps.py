from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "apps.core"
    verbose_name = "Stockroom"

    def ready(self) -> None:
        # Imported here: the schedule imports django-celery-beat's models, which Django loads
        # only once every app is registered.
        from apps.core.idempotency import idempotency_prune
        from apps.core.schedule import Periodic, install_after_migrate, periodic_register

        periodic_register(
            Periodic(
                name="Prune idempotency keys",
                task="core.idempotency_prune",
                run=idempotency_prune,
                every_seconds=3600,
                description="Deletes idempotency keys older than "
                "STOCKROOM_IDEMPOTENCY_RETENTION_HOURS (such a key is treated as new already).",
            )
        )

        # After every migrate (and test-database flush), once beat's tables exist, the apps
        # having registered their jobs in their own ready().
        post_migrate.connect(
            install_after_migrate,
            sender=apps.get_app_config("django_celery_beat"),
            dispatch_uid="apps.core.periodic_tasks_install",
        )
