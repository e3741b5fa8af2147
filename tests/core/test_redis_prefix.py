"""Every key the product writes to Redis carries the deployment's prefix, so deployments (or
a recreated database) sharing one Redis never share caches, budgets, queues or groups."""

import pytest
import redis
from django.conf import settings

from apps.events.services import outbox_publish_pending
from apps.inventory import availability_cache
from apps.observability import metrics
from inventory_site.celery import app as celery_app
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_key_written_carries_the_prefix(merchant, product, location):
    client = client_for(merchant)
    factories.stock(product, location, 10)
    assert client.get(f"/api/v1/availability/{product.sku}/").status_code == 200
    reserved = client.post_stock(
        "/api/v1/reservations/",
        {"lines": [{"sku": product.sku, "location": location.code, "quantity": 1}]},
    )
    assert reserved.status_code == 201, reserved.content
    availability_cache.invalidate([product.pk])
    outbox_publish_pending()
    metrics.count("reservations_refused")
    celery_app.send_task("events.outbox_sweep")  # through the broker, whatever eager says
    keys = [key.decode() for key in redis.Redis.from_url(settings.REDIS_URL).keys("*")]
    assert len(keys) >= 5
    prefix = f"{settings.STOCKROOM_REDIS_PREFIX}:"
    assert [key for key in keys if not key.startswith(prefix)] == []
