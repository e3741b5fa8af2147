import pytest
from django_celery_beat.models import PeriodicTask

from apps.core import embedded_scheduler
from apps.core.schedule import PERIODIC_TASKS, periodic_tasks_install
from inventory_site.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_the_beat_schedule_is_in_the_database_after_migrate():
    tasks = {task.name: task for task in PeriodicTask.objects.select_related("interval", "crontab")}
    expire = tasks["Expire due reservations"]
    assert expire.task == "events.reservations_expire_due"
    assert (expire.interval.every, expire.interval.period) == (30, "seconds")
    assert expire.enabled
    assert tasks["Publish the event outbox"].interval.every == 10
    assert tasks["Retry webhook deliveries"].task == "webhooks.retry_due"
    assert tasks["Low-stock scan"].task == "alerts.low_stock_scan"
    nightly = tasks["Nightly ledger verification"]
    assert (nightly.crontab.hour, nightly.crontab.minute) == ("2", "30")
    assert nightly.task == "alerts.ledger_verify"
    snapshot = tasks["Daily stock snapshot"]
    assert (snapshot.task, snapshot.crontab.hour, snapshot.crontab.minute) == (
        "apps.reports.tasks.snapshot_take_daily", "0", "10",
    )  # fmt: skip


def test_every_scheduled_task_is_registered_with_celery():
    celery_app.loader.import_default_modules()
    for spec in PERIODIC_TASKS:
        assert spec.task in celery_app.tasks, spec.task
    assert "events.outbox_dispatch" in celery_app.tasks
    assert "webhooks.deliver" in celery_app.tasks


def test_installing_again_changes_nothing_and_keeps_a_disabled_task_disabled():
    PeriodicTask.objects.filter(name="Low-stock scan").update(enabled=False)
    before = PeriodicTask.objects.count()
    periodic_tasks_install()
    periodic_tasks_install()
    assert PeriodicTask.objects.count() == before
    assert not PeriodicTask.objects.get(name="Low-stock scan").enabled


def test_beat_and_the_embedded_scheduler_run_one_registry():
    """Each job is declared once, by its app; beat's rows and the embedded scheduler's jobs
    both come from that declaration (crontab jobs run daily when embedded)."""
    assert {spec.name for spec in PERIODIC_TASKS} == {
        "Expire due reservations", "Publish the event outbox", "Low-stock scan",
        "Retry webhook deliveries", "Nightly ledger verification", "Daily stock snapshot",
        "Prune old events and deliveries", "Read waiting imports", "Prune idempotency keys",
        "Apply queued feed events",
    }  # fmt: skip
    installed = dict(PeriodicTask.objects.values_list("name", "task"))
    jobs = {job.func: job for job in embedded_scheduler.JOBS}
    for spec in PERIODIC_TASKS:
        assert installed[spec.name] == spec.task
        job = jobs[spec.run]
        assert (job.every, job.on_wake) == (spec.every_seconds or 24 * 3600, spec.on_wake)
