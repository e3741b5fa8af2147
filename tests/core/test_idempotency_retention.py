"""Idempotency records are kept STOCKROOM_IDEMPOTENCY_RETENTION_HOURS, then pruned by a
periodic job; a key older than the window is treated as new by the services too."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.core import embedded_scheduler
from apps.core.idempotency import idempotency_prune
from apps.core.models import IdempotencyRecord
from apps.inventory import services
from apps.inventory.models import LedgerEntry
from apps.inventory.services import StockLine
from tests import factories

pytestmark = pytest.mark.django_db


def receive(merchant, product, location, quantity, key):
    return services.stock_receive(
        merchant=merchant, lines=[StockLine(product, location, quantity)], actor=None,
        idempotency_key=key,
    )  # fmt: skip


def age(key: str, settings, extra: timedelta) -> None:
    window = timedelta(hours=settings.STOCKROOM_IDEMPOTENCY_RETENTION_HOURS)
    IdempotencyRecord.objects.filter(key=key).update(created_at=timezone.now() - window - extra)


def test_a_service_treats_a_key_past_the_window_as_new(merchant, product, location, settings):
    first = receive(merchant, product, location, 4, "po-77")
    assert receive(merchant, product, location, 4, "po-77").replayed
    age("po-77", settings, timedelta(seconds=1))
    second = receive(merchant, product, location, 4, "po-77")
    assert not second.replayed
    replay = receive(merchant, product, location, 4, "po-77")
    assert replay.replayed
    assert (
        [e.pk for e in replay.entries]
        == [e.pk for e in second.entries]
        != [e.pk for e in first.entries]
    )
    assert LedgerEntry.objects.filter(idempotency_key="po-77").count() == 2


def test_the_prune_deletes_records_past_the_window_only(merchant, product, location, settings):
    receive(merchant, product, location, 1, "old")
    receive(merchant, product, location, 1, "recent")
    age("old", settings, timedelta(seconds=1))
    age("recent", settings, -timedelta(minutes=5))
    assert idempotency_prune() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]
    assert idempotency_prune() == 0


def test_the_prune_runs_periodically_with_and_without_a_broker():
    task = PeriodicTask.objects.select_related("interval").get(name="Prune idempotency keys")
    assert task.task == "core.idempotency_prune"
    assert (task.interval.every, task.interval.period) == (3600, "seconds")
    assert any(job.func is idempotency_prune for job in embedded_scheduler.JOBS)


def test_the_prune_task_calls_the_service(merchant, product, location, settings):
    from apps.core.tasks import idempotency_records_prune

    receive(merchant, product, location, 1, factories.key())
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(days=365))
    assert idempotency_records_prune() == 1
    assert not IdempotencyRecord.objects.exists()
