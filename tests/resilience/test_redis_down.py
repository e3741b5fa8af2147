"""Redis stops: stock writes keep working, reads fall back to the database, events wait in the
outbox, and the probes say what is wrong. Uses a private Redis that the test really stops."""

import pytest
from django.core.cache import caches
from django.urls import reverse

from apps.core.cache import cached_or_computed, safe_get, safe_set
from apps.events.groups import merchant_group
from apps.events.services import outbox_publish_pending
from apps.events.tasks import outbox_sweep
from apps.inventory import services
from apps.inventory.ledger_replay import find_drift
from apps.inventory.models import LedgerEntry, OutboxEvent, StockLevel
from apps.observability import metrics
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from inventory_site.celery import app as celery_app
from tests import factories
from tests.admin_helpers import Role, idempotency_key, logged_in, messages_of, staff
from tests.resilience.streams import GroupReceiver

pytestmark = [pytest.mark.servers, pytest.mark.timeout(120)]


@pytest.fixture
def redis_everywhere(settings, private_redis):
    """Cache, channel layer and Celery broker all on the private Redis."""
    settings.REDIS_URL = private_redis.url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": private_redis.url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [private_redis.url],
                "prefix": f"{settings.STOCKROOM_REDIS_PREFIX}:asgi",
            },
        }
    }
    broker, eager = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    use_broker(private_redis.url)
    settings.STOCKROOM_EMBEDDED = False
    celery_app.conf.task_always_eager = False
    yield private_redis
    use_broker(broker)
    celery_app.conf.task_always_eager = eager
    caches["default"].close()


def use_broker(url: str) -> None:
    """Point the Celery app at another broker. Its connection and producer pools keep the URL
    they were made with (a stopped Redis of an earlier test, where publishing would retry for
    a minute): drop them, as Celery does after a fork."""
    celery_app.conf.broker_url = url
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def availability(level_id: int) -> int:
    return StockLevel.objects.get(pk=level_id).available


@pytest.mark.django_db(transaction=True)
def test_stock_writes_and_reservations_work_with_redis_stopped(
    redis_everywhere, merchant, product, location
):
    level = factories.stock(product, location, 10)
    events_before = OutboxEvent.objects.count()
    redis_everywhere.stop()

    services.stock_receive(
        merchant=merchant,
        lines=[services.StockLine(product=product, location=location, quantity=5)],
        actor=None,
        idempotency_key=factories.key(),
    )
    reservation = services.reservation_create(
        merchant=merchant,
        lines=[services.ReservationLineRequest(product=product, quantity=4)],
        actor=None,
        idempotency_key=factories.key(),
    )
    services.reservation_commit(
        merchant=merchant,
        reservation_id=reservation.pk,
        actor=None,
        idempotency_key=factories.key(),
    )

    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (11, 0)
    assert LedgerEntry.objects.filter(stock_level=level).count() == level.version == 4
    # Every change left its event in the outbox, waiting for a publisher.
    pending = OutboxEvent.objects.filter(published_at__isnull=True)
    assert OutboxEvent.objects.count() - events_before == 3
    assert pending.count() == OutboxEvent.objects.count()
    assert find_drift() == []


@pytest.mark.django_db(transaction=True)
def test_a_person_receives_stock_in_the_admin_with_redis_stopped(
    redis_everywhere, client, merchant, product, location
):
    logged_in(client, staff(merchant, Role.OWNER))
    redis_everywhere.stop()
    receive = reverse("admin:inventory_stocklevel_receive")
    form = client.get(receive)
    assert form.status_code == 200
    data = {"location": location.pk, "sku": product.sku, "quantity": 6, "reference": "PO-1",
            "note": "", "idempotency_key": idempotency_key(form)}  # fmt: skip
    response = client.post(receive, data)
    assert response.status_code == 302, response.content[:500]
    assert "On hand is now 6" in messages_of(response)[-1]
    level = StockLevel.objects.get(product=product, location=location)
    assert (level.on_hand, level.version) == (6, 1)
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_availability_reads_fall_back_to_the_database_and_use_the_cache_again(
    redis_everywhere, product, location
):
    level = factories.stock(product, location, 10)
    key = f"availability:{level.pk}"
    assert cached_or_computed(key, lambda: availability(level.pk), 30) == 10
    assert safe_get(key) == 10  # cached

    redis_everywhere.stop()
    assert safe_get(key, "missing") == "missing"
    assert safe_set(key, 1) is False
    factories.stock(product, location, 3)  # a write while the cache is away
    assert cached_or_computed(key, lambda: availability(level.pk), 30) == 13  # from the database

    redis_everywhere.start()  # same port, empty: the cache comes back by itself
    assert safe_get(key) is None
    assert cached_or_computed(key, lambda: availability(level.pk), 30) == 13
    assert safe_get(key) == 13


@pytest.mark.django_db(transaction=True)
def test_probes_and_metrics_with_redis_stopped(redis_everywhere, client, product, location):
    factories.stock(product, location, 2)
    redis_everywhere.stop()
    assert client.get("/healthz").status_code == 200
    # Writes keep working without Redis (above): the process stays ready, reporting Redis.
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert (ready.json()["status"], ready.json()["degraded"]) == ("ready", ["redis"])
    assert ready.json()["checks"]["redis"]["ok"] is False
    assert ready.json()["checks"]["database"]["ok"] is True

    metrics.count("webhook_failures")  # fails soft
    metrics.DATABASE_COLLECTOR._cached = None
    scraped = client.get("/metrics").content.decode()
    assert "stockroom_outbox_pending_events 1.0" in scraped
    assert "stockroom_metrics_database_up 1.0" in scraped

    redis_everywhere.start()
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()["degraded"]) == (200, [])


def pending_ids() -> list[int]:
    return list(
        OutboxEvent.objects.filter(published_at__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_events_wait_in_the_outbox_while_redis_is_down_and_are_published_once_after(
    redis_everywhere, merchant, product, location, other_location
):
    WebhookEndpoint.objects.create(
        merchant=merchant, name="ERP", url="http://127.0.0.1:9/hook", event_types=["stock.changed"]
    )
    factories.stock(product, location, 10)
    assert outbox_publish_pending() == 1
    redis_everywhere.stop()

    services.stock_receive(
        merchant=merchant,
        lines=[
            services.StockLine(product=product, location=location, quantity=5),
            services.StockLine(product=product, location=other_location, quantity=2),
        ],
        actor=None,
        idempotency_key=factories.key(),
    )
    reservation = services.reservation_create(
        merchant=merchant,
        lines=[services.ReservationLineRequest(product=product, quantity=4)],
        actor=None,
        idempotency_key=factories.key(),
    )
    services.reservation_commit(
        merchant=merchant,
        reservation_id=reservation.pk,
        actor=None,
        idempotency_key=factories.key(),
    )
    pending = pending_ids()
    assert len(pending) == 4

    # The dispatcher and the periodic sweep run while Redis is away: they publish nothing,
    # raise nothing, and leave every event (and its webhook) pending.
    assert outbox_publish_pending() == 0
    assert outbox_sweep.apply().get() == 0
    assert pending_ids() == pending
    assert (
        WebhookDelivery.objects.filter(event_key__in=[f"event:{i}" for i in pending]).count() == 0
    )

    redis_everywhere.start()  # same port, empty: no group survived
    subscriber = GroupReceiver(redis_everywhere.url, merchant_group(merchant.pk))
    assert outbox_sweep.apply().get() == 4
    assert [subscriber.next_event_id() for _ in pending] == pending  # each once, in order
    assert pending_ids() == []
    assert outbox_publish_pending() == 0

    # Nothing was published twice: the next message on the channel is the next change.
    factories.stock(product, location, 1)
    assert outbox_publish_pending() == 1
    assert subscriber.next_event_id() == OutboxEvent.objects.latest("id").pk
    deliveries = WebhookDelivery.objects.values_list("event_key", flat=True)
    assert sorted(deliveries) == sorted(
        f"event:{i}" for i in OutboxEvent.objects.values_list("id", flat=True)
    )
