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
from tests.realstack import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_client():
    """Each test starts with no back-off from an earlier failure and nothing in memory."""
    availability_cache.redis_path.down_until = 0.0
    availability_cache._local.clear()
    yield
    availability_cache.redis_path.down_until = 0.0
    availability_cache._local.clear()


def redis_key(name: str) -> str:
    return f"{settings.STOCKROOM_REDIS_PREFIX}:avail:{name}"


def listening() -> None:
    """Wait until this process's invalidation listener is subscribed."""
    wait_for(lambda: availability_cache.invalidations.token() is not None, timeout=5)


@pytest.fixture
def redis_reads(monkeypatch):
    """How many reads went to Redis (or through it to the database)."""
    calls = []
    original = availability_cache._through_redis

    def counted(*args, **kwargs):
        calls.append(args[2])
        return original(*args, **kwargs)

    monkeypatch.setattr(availability_cache, "_through_redis", counted)
    return calls


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
    generation = redis.Redis.from_url(settings.REDIS_URL).get(redis_key(f"gen:{product.pk}"))
    with pytest.raises(InsufficientStock):
        _reserve(merchant, product, location, 11)
    assert (
        redis.Redis.from_url(settings.REDIS_URL).get(redis_key(f"gen:{product.pk}")) == generation
    )


def test_figures_stored_under_an_old_generation_are_never_served(merchant, product, location):
    """A reader that took generation g before a writer committed may store old figures under
    g; once the writer moves the generation on, those figures are unreachable."""
    factories.stock(product, location, 10)
    availability_cache.availability(merchant=merchant, sku=product.sku)
    client = redis.Redis.from_url(settings.REDIS_URL)
    old_key = redis_key(f"data:{merchant.pk}:{product.sku}:0:0")
    assert client.exists(old_key)
    client.set(old_key, client.get(old_key).replace(b'"available":10', b'"available":999'))
    availability_cache._local.clear()  # this test is about the Redis level
    assert availability_cache.availability(merchant=merchant, sku=product.sku).available == 999
    availability_cache.invalidate([product.pk])
    assert availability_cache.availability(merchant=merchant, sku=product.sku).available == 10


def test_unknown_sku_is_not_found_and_not_cached(merchant):
    with pytest.raises(ObjectNotFound):
        availability_cache.availability(merchant=merchant, sku="NOPE")
    assert not redis.Redis.from_url(settings.REDIS_URL).keys(redis_key("*"))


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


def test_a_second_read_is_served_from_memory_without_a_round_trip(
    merchant, product, location, redis_reads, django_assert_num_queries
):
    factories.stock(product, location, 10)
    listening()
    first = availability_cache.availability_document(merchant=merchant, sku=product.sku)
    assert redis_reads == [product.sku]
    with django_assert_num_queries(0):
        again = availability_cache.availability_document(merchant=merchant, sku=product.sku)
        five = availability_cache.availability(merchant=merchant, sku=product.sku, quantity=5)
    assert again == first
    assert five == selectors.availability(merchant=merchant, sku=product.sku, quantity=5)
    assert redis_reads == [product.sku]


def test_another_process_s_invalidation_drops_the_figures_held_in_memory(
    merchant, product, location, redis_reads
):
    factories.stock(product, location, 10)
    listening()
    availability_cache.availability(merchant=merchant, sku=product.sku)
    availability_cache.availability(merchant=merchant, sku=product.sku)
    assert len(redis_reads) == 1
    # Another process's writer: the generation moves on and the message goes out, without
    # this process calling anything.
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.incr(redis_key(f"gen:{product.pk}"))
    seq = availability_cache.invalidations.token().seq
    client.publish(availability_cache.invalidations.channel, f"p:{product.pk}")
    wait_for(lambda: availability_cache.invalidations.token().seq > seq, timeout=5)
    availability_cache.availability(merchant=merchant, sku=product.sku)
    assert len(redis_reads) == 2


def test_a_message_that_arrives_while_the_figures_are_fetched_keeps_them_out_of_memory(
    merchant, product, location, monkeypatch, redis_reads
):
    """The reader's token is taken before the fetch: a change announced during the fetch may
    have been missed by it, so its figures must not be served from memory afterwards."""
    factories.stock(product, location, 10)
    listening()
    original = availability_cache._through_redis

    def fetch_during_a_change(*args, **kwargs):
        found = original(*args, **kwargs)
        availability_cache.invalidations.applied([f"p:{product.pk}"])  # the listener's work
        return found

    monkeypatch.setattr(availability_cache, "_through_redis", fetch_during_a_change)
    availability_cache.availability(merchant=merchant, sku=product.sku)
    monkeypatch.setattr(availability_cache, "_through_redis", original)
    entry = availability_cache._local[(merchant.pk, product.sku)]
    assert not availability_cache.invalidations.valid(entry.token, entry.sources)


def test_a_location_s_status_is_seen_by_the_next_read(
    merchant, product, location, django_capture_on_commit_callbacks
):
    from apps.locations.services import location_update

    factories.stock(product, location, 10)
    listening()
    assert availability_cache.availability(merchant=merchant, sku=product.sku).available == 10
    with django_capture_on_commit_callbacks(execute=True):
        location_update(location=location, status="maintenance")
    after = availability_cache.availability(merchant=merchant, sku=product.sku)
    assert after.available == 0
    assert after.locations[0].status == "maintenance"


def test_no_listener_means_no_figures_from_memory(merchant, product, location, redis_reads):
    """Before the listener is subscribed (or while Redis is away) messages could be missed:
    every read goes to Redis."""
    factories.stock(product, location, 10)
    channel = availability_cache.invalidations
    live = channel._live
    channel._live = False
    try:
        availability_cache.availability(merchant=merchant, sku=product.sku)
        availability_cache.availability(merchant=merchant, sku=product.sku)
    finally:
        channel._live = live
    assert len(redis_reads) == 2


def test_figures_held_before_the_listener_reconnects_are_not_served_after(
    merchant, product, location, redis_reads
):
    """Messages sent while the listener was disconnected are lost: a new subscription starts
    a new epoch, and nothing cached in the old one is served."""
    factories.stock(product, location, 10)
    listening()
    availability_cache.availability(merchant=merchant, sku=product.sku)
    epoch = availability_cache.invalidations.token().epoch
    client = redis.Redis.from_url(settings.REDIS_URL)
    name = availability_cache.invalidations.client_name
    (listener,) = [c for c in client.client_list(_type="pubsub") if c["name"] == name]
    client.client_kill_filter(_id=listener["id"])
    wait_for(
        lambda: (token := availability_cache.invalidations.token()) and token.epoch > epoch,
        timeout=10,
    )
    availability_cache.availability(merchant=merchant, sku=product.sku)
    assert len(redis_reads) == 2
