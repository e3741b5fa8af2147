"""The periodic tasks, kept in django-celery-beat's database scheduler (visible and editable in
the admin under "Periodic tasks"). Installed after every `migrate`; an administrator's choice
to disable a task is kept."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    every_seconds: int | None = None
    crontab: dict[str, str] | None = None
    description: str = ""


PERIODIC_TASKS = (
    Periodic(
        name="Expire due reservations",
        task="events.reservations_expire_due",
        every_seconds=30,
        description="Releases the stock held by reservations past their TTL.",
    ),
    Periodic(
        name="Publish the event outbox",
        task="events.outbox_sweep",
        every_seconds=10,
        description="Publishes events left unpublished (after a crash or a lost task).",
    ),
    Periodic(
        name="Low-stock scan",
        task="alerts.low_stock_scan",
        every_seconds=300,
        description="Raises and resolves low-stock alerts missed by event processing.",
    ),
    Periodic(
        name="Retry webhook deliveries",
        task="webhooks.retry_due",
        every_seconds=30,
        description="Sends webhook deliveries whose retry time has come.",
    ),
    Periodic(
        name="Nightly ledger verification",
        task="alerts.ledger_verify",
        crontab={"minute": "30", "hour": "2"},
        description="Replays the ledger; raises an alert for every stock level that drifts.",
    ),
    Periodic(
        name="Daily stock snapshot",
        task="apps.reports.tasks.snapshot_take_daily",
        crontab={"minute": "10", "hour": "0"},
        description="Stores yesterday's closing stock per level for the reports.",
    ),
    Periodic(
        name="Prune idempotency keys",
        task="events.idempotency_prune",
        every_seconds=3600,
        description="Deletes idempotency keys older than STOCKROOM_IDEMPOTENCY_RETENTION_HOURS "
        "(such a key is treated as new already).",
    ),
    Periodic(
        name="Prune old events and deliveries",
        task="events.prune",
        crontab={"minute": "15", "hour": "3"},
        description="Deletes published events and finished webhook deliveries past retention.",
    ),
)


def periodic_tasks_install(*, using: str = "default") -> list[str]:
    """Create or update every periodic task (idempotent). Returns their names."""
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
