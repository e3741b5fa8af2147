"""The availability cache: same answers as the database, fresh after every committed change,
and never a failed read when Redis is unreachable."""

import pytest
import redis
from django.conf import settings
from django.test import override_settings

from apps.catalog.services import product_update
from apps.core.errors import ObjectNotFound
from apps.inventory import availability_cache, selectors, services
from apps.inventory.exceptions import InsufficientStock
from apps.inventory.services import ReservationLineRequest
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_client():
    """Each test starts with no back-off from an earlier failure."""
    availability_cache.redis_path.down_until = 0.0
    yield
    availability_cache.redis_path.down_until = 0.0


def _reserve(merchant, product, location, quantity):
    return services.reservation_create(
        merchant=merchant,
        lines=[ReservationLineRequest(product=product, location=location, quantity=quantity)],
        actor=None,
        idempotency_key=factories.key(),
    )


def test_cached_answer_equals_the_database_and_adapts_to_quantity(
    merchant, product, location, other_location, django_assert_num_queries
):
    factories.stock(product, location, 10)
    factories.stock(product, other_location, 4)
    first = availability_cache.availability(merchant=merchant, sku=product.sku)
    assert first == selectors.availability(merchant=merchant, sku=product.sku)
    with django_assert_num_queries(0):
        cached = availability_cache.availability(merchant=merchant, sku=product.sku, quantity=5)
    assert cached == selectors.availability(merchant=merchant, sku=product.sku, quantity=5)
    assert (cached.available, cached.can_serve, cached.can_serve_from_one_location) == (
        14,
        True,
        True,
    )
    big = availability_cache.availability(merchant=merchant, sku=product.sku, quantity=11)
    assert (big.can_serve, big.can_serve_from_one_location) == (True, False)


def test_a_committed_change_is_seen_by_the_next_read(
    merchant, product, location, django_capture_on_commit_callbacks
):
    factories.stock(product, location, 10)
    assert availability_cache.availability(merchant=merchant, sku=product.sku).available == 10
    with django_capture_on_commit_callbacks(execute=True):
        _reserve(merchant, product, location, 3)
    assert availability_cache.availability(merchant=merchant, sku=product.sku).available == 7


def test_deactivating_a_product_is_seen_by_the_next_read(
    merchant, product, location, django_capture_on_commit_callbacks
):
    factories.stock(product, location, 10)
    assert availability_cache.availability(merchant=merchant, sku=product.sku).available == 10
    with django_capture_on_commit_callbacks(execute=True):
        product_update(product=product, is_active=False)
    assert availability_cache.availability(merchant=merchant, sku=product.sku).available == 0


def test_uncommitted_change_does_not_invalidate(merchant, product, location):
    """Invalidation happens after commit only; a rolled-back change leaves the cache valid."""
    factories.stock(product, location, 10)
    availability_cache.availability(merchant=merchant, sku=product.sku)
    generation = redis.Redis.from_url(settings.REDIS_URL).get(f"avail:gen:{product.pk}")
    with pytest.raises(InsufficientStock):
        _reserve(merchant, product, location, 11)
    assert redis.Redis.from_url(settings.REDIS_URL).get(f"avail:gen:{product.pk}") == generation


def test_figures_stored_under_an_old_generation_are_never_served(merchant, product, location):
    """A reader that took generation g before a writer committed may store old figures under
    g; once the writer moves the generation on, those figures are unreachable."""
    factories.stock(product, location, 10)
    availability_cache.availability(merchant=merchant, sku=product.sku)
    client = redis.Redis.from_url(settings.REDIS_URL)
    old_key = f"avail:data:{merchant.pk}:{product.sku}:0"
    assert client.exists(old_key)
    client.set(old_key, client.get(old_key).replace(b'"available":10', b'"available":999'))
    assert availability_cache.availability(merchant=merchant, sku=product.sku).available == 999
    availability_cache.invalidate([product.pk])
    assert availability_cache.availability(merchant=merchant, sku=product.sku).available == 10


def test_unknown_sku_is_not_found_and_not_cached(merchant):
    with pytest.raises(ObjectNotFound):
        availability_cache.availability(merchant=merchant, sku="NOPE")
    assert not redis.Redis.from_url(settings.REDIS_URL).keys("avail:*")


def test_a_merchant_never_reads_another_merchants_cached_figures(
    merchant, other_merchant, product, location
):
    factories.stock(product, location, 10)
    availability_cache.availability(merchant=merchant, sku=product.sku)
    with pytest.raises(ObjectNotFound):
        availability_cache.availability(merchant=other_merchant, sku=product.sku)


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_reads_fall_back_to_the_database_when_redis_is_unreachable(
    merchant, product, location, django_capture_on_commit_callbacks
):
    factories.stock(product, location, 10)
    assert availability_cache.availability(merchant=merchant, sku=product.sku).available == 10
    with django_capture_on_commit_callbacks(execute=True):
        _reserve(merchant, product, location, 4)  # invalidation fails quietly
    assert availability_cache.availability(merchant=merchant, sku=product.sku).available == 6
