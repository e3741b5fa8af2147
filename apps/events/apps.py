from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _install_periodic_tasks(sender, using="default", plan=None, **kwargs) -> None:
    from apps.events.schedule import periodic_tasks_install

    if plan is not None and any(backwards for _, backwards in plan):
        return  # unapplying migrations: the tables may be gone
    periodic_tasks_install(using=using)


class EventsConfig(AppConfig):
    name = "apps.events"
    verbose_name = "Events and background jobs"

    def ready(self) -> None:
        from apps.core import embedded_scheduler
        from apps.events.services import outbox_publish_pending
        from apps.events.tasks import prune
        from apps.inventory.services import idempotency_prune, reservation_expire_due
        from apps.reports.tasks import snapshot_take_daily

        # Without a broker the web process runs the same jobs beat schedules (see schedule.py).
        embedded_scheduler.register(reservation_expire_due, every=30)
        embedded_scheduler.register(outbox_publish_pending, every=10, on_wake=True)
        embedded_scheduler.register(prune, every=24 * 3600)
        embedded_scheduler.register(idempotency_prune, every=3600)
        embedded_scheduler.register(snapshot_take_daily, every=24 * 3600)
        # After every migrate (and test-database flush), once beat's tables exist.
        post_migrate.connect(
            _install_periodic_tasks,
            sender=apps.get_app_config("django_celery_beat"),
            dispatch_uid="apps.events.periodic_tasks_install",
        )
