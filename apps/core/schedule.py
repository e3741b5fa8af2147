"""The periodic jobs: one registry, filled by each app in its `AppConfig.ready()` with the jobs
that belong to it, and read by both runners.

- With a broker, Celery beat runs each job's task from django-celery-beat's database scheduler
  (visible and editable in the admin under "Periodic tasks"). `periodic_tasks_install` writes
  the registry there after every `migrate`; an administrator's choice to disable a task is kept.
- On the embedded defaults (`STOCKROOM_EMBEDDED`) the web process calls each job's function at
  the same interval (crontab jobs once a day), see `apps.core.embedded_scheduler`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from apps.core import embedded_scheduler

DAY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str  # the Celery task beat sends
    run: Callable[[], object]  # what the embedded scheduler calls (the task's work)
    every_seconds: int | None = None
    crontab: dict[str, str] | None = None
    description: str = ""
    on_wake: bool = False  # embedded: also run at once on `embedded_scheduler.wake()`

    @property
    def embedded_every(self) -> int:
        return self.every_seconds or DAY_SECONDS


PERIODIC_TASKS: list[Periodic] = []


def periodic_register(spec: Periodic) -> Periodic:
    """Declare a periodic job (once per name, however often the app is readied)."""
    if not any(existing.name == spec.name for existing in PERIODIC_TASKS):
        PERIODIC_TASKS.append(spec)
        embedded_scheduler.register(spec.run, every=spec.embedded_every, on_wake=spec.on_wake)
    return spec


def periodic_tasks_install(*, using: str = "default") -> list[str]:
    """Create or update every periodic task in beat's tables (idempotent). Returns their
    names."""
    with transaction.atomic(using=using):
        for spec in PERIODIC_TASKS:
            PeriodicTask.objects.using(using).update_or_create(
                name=spec.name,
                defaults={
                    "task": spec.task,
                    "description": spec.description,
                    **_schedule(spec, using),
                },
            )
    return [spec.name for spec in PERIODIC_TASKS]


def _schedule(spec: Periodic, using: str) -> dict[str, object]:
    if spec.every_seconds is not None:
        interval, _ = IntervalSchedule.objects.using(using).get_or_create(
            every=spec.every_seconds, period=IntervalSchedule.SECONDS
        )
        return {"interval": interval, "crontab": None}
    crontab, _ = CrontabSchedule.objects.using(using).get_or_create(
        minute=spec.crontab["minute"],
        hour=spec.crontab["hour"],
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="UTC",
    )
    return {"interval": None, "crontab": crontab}


def install_after_migrate(sender, using: str = "default", plan=None, **kwargs) -> None:
    """post_migrate receiver (connected by CoreConfig once beat's tables exist)."""
    if plan is not None and any(backwards for _, backwards in plan):
        return  # unapplying migrations: the tables may be gone
    periodic_tasks_install(using=using)
