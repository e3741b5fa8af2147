import asyncio
import threading
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core import hooks
from apps.events import services
from apps.events.groups import location_group, merchant_group
from apps.events.selectors import events_since
from apps.events.tasks import outbox_sweep
from apps.inventory import services as stock
from apps.inventory.models import LedgerEntry, OutboxEvent
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from inventory_site.celery import app as celery_app
from tests import factories


def _receive(layer, channel: str, count: int) -> list[dict]:
    async def collect() -> list[dict]:
        return [await layer.receive(channel) for _ in range(count)]

    return async_to_sync(collect)()


def _nothing(layer, channel: str, wait: float = 0.3) -> bool:
    async def check() -> bool:
        try:
            await asyncio.wait_for(layer.receive(channel), wait)
        except TimeoutError:
            return True
        return False

    return async_to_sync(check)()


def _listen(layer, *groups: str) -> str:
    async def join() -> str:
        channel = await layer.new_channel()
        for group in groups:
            await layer.group_add(group, channel)
        return channel

    return async_to_sync(join)()


def _receive_line(merchant, product, location, quantity: int) -> None:
    stock.stock_receive(
        merchant=merchant,
        lines=[stock.StockLine(product=product, location=location, quantity=quantity)],
        actor=None,
        idempotency_key=factories.key(),
    )


def _dispatches(callbacks) -> int:
    return sum(callback is hooks.outbox_committed.send_committed for callback in callbacks)


@pytest.mark.django_db
def test_a_transaction_asks_for_one_dispatch_however_many_rows_it_writes(
    merchant, location, django_capture_on_commit_callbacks
):
    products = [factories.product(merchant) for _ in range(3)]
    with django_capture_on_commit_callbacks() as callbacks:
        stock.stock_receive(
            merchant=merchant,
            lines=[stock.StockLine(product=p, location=location, quantity=5) for p in products],
            actor=None,
            idempotency_key=factories.key(),
        )
        stock.stock_level_configure(
            merchant=merchant, product=products[0], location=location, actor=None,
            idempotency_key=factories.key(), low_stock_threshold=2,
        )  # fmt: skip
    assert OutboxEvent.objects.count() == 4
    assert _dispatches(callbacks) == 1


@pytest.mark.django_db
def test_a_rolled_back_savepoint_does_not_lose_the_dispatch(
    merchant, product, location, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        try:
            with transaction.atomic():
                _receive_line(merchant, product, location, 1)
                raise ZeroDivisionError
        except ZeroDivisionError:
            pass
        assert _dispatches(callbacks) == 0
        _receive_line(merchant, product, location, 2)
    assert _dispatches(callbacks) == 1


@pytest.mark.django_db
def test_publish_sends_each_event_to_the_merchant_and_location_groups(
    merchant, product, location, other_location
):
    layer = get_channel_layer()
    merchant_channel = _listen(layer, merchant_group(merchant.pk))
    location_channel = _listen(layer, location_group(merchant.pk, location.pk))
    other_channel = _listen(layer, location_group(merchant.pk, other_location.pk))
    _receive_line(merchant, product, location, 7)
    stock.stock_ship(
        merchant=merchant,
        lines=[stock.StockLine(product=product, location=location, quantity=2)],
        actor=None,
        idempotency_key=factories.key(),
    )

    assert services.outbox_publish_pending() == 2

    events = [m["event"] for m in _receive(layer, merchant_channel, 2)]
    assert [m["event"] for m in _receive(layer, location_channel, 2)] == events
    ledger = list(LedgerEntry.objects.filter(stock_level__product=product).order_by("id"))
    first, second = events
    assert first["type"] == second["type"] == "stock.changed"
    assert first["id"] < second["id"]
    assert first["merchant"] == merchant.code
    assert first["data"]["ledger_id"] == ledger[0].pk
    assert (first["data"]["on_hand"], first["data"]["available"], first["data"]["version"]) == (
        7, 7, 1,
    )  # fmt: skip
    expected = {
        "sku": product.sku, "location": location.code, "location_id": location.pk,
        "on_hand": 5, "reserved": 0, "available": 5, "version": 2, "reason": "sale",
        "ledger_id": ledger[1].pk,
    }  # fmt: skip
    assert {name: second["data"][name] for name in expected} == expected
    assert second["data"]["delta"] == {"on_hand": -2, "reserved": 0, "damaged": 0, "in_transit": 0}
    assert _nothing(layer, other_channel)
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()
    assert services.outbox_publish_pending() == 0  # nothing is published twice


@pytest.mark.django_db
def test_events_left_behind_by_a_failed_publish_are_published_by_the_sweep(
    merchant, product, location, monkeypatch, django_capture_on_commit_callbacks
):
    _receive_line(merchant, product, location, 3)

    def crash(documents):
        raise RuntimeError("worker died mid-publish")

    monkeypatch.setattr("apps.webhooks.services.webhook_deliveries_create", crash)
    with pytest.raises(RuntimeError):
        services.outbox_publish_pending()
    # The claim rolled back with the failure: the event is still pending, nothing lost.
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 1

    monkeypatch.undo()
    layer = get_channel_layer()
    channel = _listen(layer, merchant_group(merchant.pk))
    assert outbox_sweep.apply().get() == 1
    (message,) = _receive(layer, channel, 1)
    assert message["event"]["data"]["on_hand"] == 3
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatchers_publish_every_event_exactly_once(merchant, location, monkeypatch):
    products = [factories.product(merchant) for _ in range(40)]
    for round_ in range(5):
        stock.stock_receive(
            merchant=merchant,
            lines=[
                stock.StockLine(product=p, location=location, quantity=round_ + 1) for p in products
            ],
            actor=None,
            idempotency_key=factories.key(),
        )
    published: list[int] = []
    lock = threading.Lock()
    real_publish = services.publish_to_groups

    def recording_publish(documents, **kwargs):
        with lock:
            published.extend(d["id"] for d in documents)
        real_publish(documents, **kwargs)

    monkeypatch.setattr(services, "publish_to_groups", recording_publish)
    barrier = threading.Barrier(4)
    counts: list[int] = []

    def dispatcher() -> None:
        try:
            barrier.wait()
            counts.append(services.outbox_publish_pending(batch_size=15))
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    event_ids = sorted(OutboxEvent.objects.values_list("id", flat=True))
    assert len(event_ids) == 200
    assert sorted(published) == event_ids
    assert sum(counts) == 200
    assert not OutboxEvent.objects.filter(published_at__isnull=True).exists()


def test_dispatch_soon_wakes_the_embedded_scheduler_without_a_broker(monkeypatch):
    woken = []
    monkeypatch.setattr(services.embedded_scheduler, "wake", lambda: woken.append(True))
    services.outbox_dispatch_soon()
    assert woken == [True]


@pytest.mark.django_db
def test_pruning_keeps_unpublished_and_recent_events(merchant, product, location):
    _receive_line(merchant, product, location, 1)
    _receive_line(merchant, product, location, 1)
    services.outbox_publish_pending()
    _receive_line(merchant, product, location, 1)  # not published yet
    old, recent, pending = OutboxEvent.objects.order_by("id")
    OutboxEvent.objects.filter(pk=old.pk).update(published_at=timezone.now() - timedelta(days=31))

    assert services.outbox_prune() == 1
    assert list(OutboxEvent.objects.order_by("id")) == [recent, pending]
    assert services.outbox_prune(older_than=timedelta(0)) == 1
    assert list(OutboxEvent.objects.all()) == [pending]


@pytest.mark.django_db
def test_publishing_a_batch_costs_the_same_queries_for_many_events(merchant, location):

    def publish_queries(lines: int) -> int:
        products = [factories.product(merchant) for _ in range(lines)]
        stock.stock_receive(
            merchant=merchant,
            lines=[stock.StockLine(product=p, location=location, quantity=20) for p in products],
            actor=None,
            idempotency_key=factories.key(),
        )
        with CaptureQueriesContext(connection) as captured:
            assert services.outbox_publish_pending() == lines
        return len(captured)

    assert publish_queries(2) == publish_queries(40)


def test_dispatch_soon_queues_the_task_when_not_embedded_even_if_celery_runs_eagerly(
    settings, monkeypatch
):
    """Embedded mode is the STOCKROOM_EMBEDDED setting, not whether Celery runs eagerly."""
    settings.STOCKROOM_EMBEDDED = False
    assert celery_app.conf.task_always_eager
    sent, woken = [], []
    monkeypatch.setattr(celery_app, "send_task", lambda name, **kw: sent.append(name))
    monkeypatch.setattr(services.embedded_scheduler, "wake", lambda: woken.append(True))
    services.outbox_dispatch_soon()
    services.outbox_dispatch_soon()  # debounced: one task for a burst of commits
    assert (sent, woken) == (["events.outbox_dispatch"], [])


@pytest.mark.django_db
def test_an_alert_reaches_dashboards_and_partners_through_the_outbox_by_topic(
    merchant, product, location
):
    endpoint = WebhookEndpoint.objects.create(
        merchant=merchant, name="ERP", url="http://127.0.0.1:9/x", event_types=["stock.low"]
    )
    layer = get_channel_layer()
    channel = _listen(layer, merchant_group(merchant.pk))
    level = factories.stock(product, location, 2, low_stock_threshold=5)

    # The receipt and the threshold, then the alert they raise: published in the same run.
    assert services.outbox_publish_pending() == 4
    topics = list(OutboxEvent.objects.order_by("id").values_list("topic", flat=True))
    assert topics == ["stock.changed", "stock.changed", "alert.triggered", "stock.low"]
    messages = _receive(layer, channel, 3)
    assert [(m["type"], m["event"]["type"]) for m in messages] == [
        ("stock.event", "stock.changed"),
        ("stock.event", "stock.changed"),
        ("alert.event", "alert.triggered"),
    ]
    assert messages[2]["event"]["data"]["stock_level_id"] == level.pk
    assert _nothing(layer, channel)  # stock.low is for partners only
    (delivery,) = WebhookDelivery.objects.all()
    assert (delivery.endpoint_id, delivery.event_type) == (endpoint.pk, "stock.low")
    assert delivery.payload["data"]["reorder_quantity"] == 4
    # A resumed stream replays stock events only, as it always did; alerts are pushed live.
    replayed = [e["type"] for e in events_since(merchant_id=merchant.pk, since=0)]
    assert replayed == ["stock.changed", "stock.changed"]
