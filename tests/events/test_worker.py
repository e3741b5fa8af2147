"""Celery tasks run by real worker processes against the real Redis broker."""

import subprocess
import sys

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from apps.events.groups import merchant_group
from apps.inventory import services
from apps.inventory.models import OutboxEvent, Reservation, StockLevel
from apps.inventory.tasks import reservations_expire_due
from apps.webhooks import signing
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from apps.webhooks.tasks import retry_due
from inventory_site.celery import app as celery_app
from tests import factories
from tests.inventory.test_tasks import assert_expired_exactly_once, make_due_reservations
from tests.realstack import (
    ROOT,
    celery_workers,
    declare_broker_queues,
    process_env,
    wait_for,
    wait_until_workers_idle,
    webhook_receiver,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def workers(django_db_setup):
    with celery_workers(count=2, STOCKROOM_WEBHOOK_BACKOFF_SECONDS="0") as processes:
        yield processes


@pytest.fixture
def broker(workers, settings):
    """Send tasks to the workers instead of running them in the test process."""
    declare_broker_queues()
    settings.STOCKROOM_EMBEDDED = False
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = True
    wait_until_workers_idle()


def test_a_worker_publishes_a_committed_stock_change_to_the_live_groups(
    broker, merchant, product, location
):
    layer = get_channel_layer()

    async def listen() -> str:
        channel = await layer.new_channel()
        await layer.group_add(merchant_group(merchant.pk), channel)
        return channel

    channel = async_to_sync(listen)()
    services.stock_receive(
        merchant=merchant,
        lines=[services.StockLine(product=product, location=location, quantity=9)],
        actor=None,
        idempotency_key=factories.key(),
    )  # commits; the after-commit hook queues `events.outbox_dispatch`

    wait_for(lambda: not OutboxEvent.objects.filter(published_at__isnull=True).exists(), 20)
    message = async_to_sync(layer.receive)(channel)
    assert message["event"]["data"]["on_hand"] == 9
    assert message["event"]["data"]["sku"] == product.sku


def test_two_workers_expire_each_due_reservation_exactly_once(broker, merchant, product, location):
    reservations = make_due_reservations(merchant, product, location, 80)
    reservations_expire_due.delay()
    reservations_expire_due.delay()

    wait_for(lambda: not Reservation.objects.filter(status="active").exists(), 60)
    level = StockLevel.objects.get(product=product, location=location)
    wait_for(lambda: OutboxEvent.objects.filter(topic="reservation.expired").count() == 80, 10)
    assert_expired_exactly_once(reservations, level, on_hand=85)


def test_beat_runs_the_expiry_by_itself(broker, merchant, product, location):
    """Beat reads the schedule from the database; a 1 s interval keeps the test short."""
    (reservation,) = make_due_reservations(merchant, product, location, 1)
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
    PeriodicTask.objects.filter(task="events.reservations_expire_due").update(interval=every_second)
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "inventory_site", "beat", "--loglevel", "WARNING",
         "--max-interval", "1"],
        cwd=ROOT,
        env=process_env(),
    )  # fmt: skip
    try:
        wait_for(lambda: Reservation.objects.get(pk=reservation.pk).status == "expired", 30)
    finally:
        beat.terminate()
        beat.wait(timeout=10)
    level = StockLevel.objects.get(product=product, location=location)
    assert (level.on_hand, level.reserved) == (6, 0)


def test_workers_deliver_a_signed_webhook_and_retry_it_after_a_500(
    broker, merchant, product, location
):
    with webhook_receiver([500, 200]) as receiver:
        endpoint = WebhookEndpoint.objects.create(
            merchant=merchant, name="ERP", url=receiver.url, event_types=["stock.changed"]
        )
        services.stock_receive(
            merchant=merchant,
            lines=[services.StockLine(product=product, location=location, quantity=4)],
            actor=None,
            idempotency_key=factories.key(),
        )  # -> outbox_dispatch -> webhooks.deliver (500)
        wait_for(lambda: WebhookDelivery.objects.filter(response_code=500).exists(), 20)
        retry_due.delay()  # what beat does every 30 s -> webhooks.deliver (200)
        wait_for(lambda: WebhookDelivery.objects.filter(status="succeeded").exists(), 20)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.response_code) == (2, 200)
    assert len(receiver.requests) == 2
    for request in receiver.requests:
        assert signing.verify(
            endpoint.secret, request.headers[signing.SIGNATURE_HEADER], request.body
        )
    assert receiver.requests[1].json["data"]["on_hand"] == 4
