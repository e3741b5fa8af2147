"""Celery tasks run by real worker processes against the real Redis broker."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.events.groups import merchant_group
from apps.events.tasks import reservations_expire_due
from apps.inventory import services
from apps.inventory.models import OutboxEvent, Reservation, StockLevel
from inventory_site.celery import app as celery_app
from tests import factories
from tests.events.test_tasks import assert_expired_exactly_once, make_due_reservations
from tests.realstack import celery_workers, declare_broker_queues, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def workers(django_db_setup):
    with celery_workers(count=2) as processes:
        yield processes


@pytest.fixture
def broker(workers):
    """Send tasks to the workers instead of running them in the test process."""
    declare_broker_queues()
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = True


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
