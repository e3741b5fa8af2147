"""While PostgreSQL cannot be reached, availability answers from the last figures read from
it, kept in Redis beyond every invalidation, marked stale with their age and a Warning header;
API keys this process knew keep authenticating. The outage here is the process's own record
of one (`database_outage`), which is what sends reads to their fallback; the servers test
tests/resilience/test_postgres_outage.py stops a real PostgreSQL."""

import time

import pytest
from django.db import OperationalError

from apps.apikeys.auth import authenticate_key
from apps.apikeys.models import ApiKey
from apps.core import db_errors
from apps.inventory import availability_cache, services
from apps.inventory.services import ReservationLineRequest
from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keys_remembered(settings):
    """A key authenticated once is not looked up again during the test: a real answer from the
    database would (rightly) end the outage these tests stand in for."""
    settings.STOCKROOM_API_KEY_CACHE_SECONDS = 60


def database_down() -> None:
    db_errors.database_outage.failed(OperationalError("connection refused"))


def test_a_stale_answer_comes_from_the_last_known_figures_with_its_age(
    merchant, product, location, django_capture_on_commit_callbacks
):
    factories.stock(product, location, 10)
    api = client_for(merchant)
    fresh = api.get(f"/api/v1/availability/{product.sku}/", {"quantity": 4})
    assert fresh.status_code == 200
    assert "Warning" not in fresh.headers
    assert (fresh.json()["stale"], fresh.json()["age_seconds"]) == (False, None)
    with django_capture_on_commit_callbacks(execute=True):  # invalidates the cached figures
        services.reservation_create(
            merchant=merchant, lines=[ReservationLineRequest(product, 3, location)], actor=None,
            idempotency_key=factories.key(),
        )  # fmt: skip
    availability_cache._local.clear()
    time.sleep(1.1)
    database_down()

    stale = api.get(f"/api/v1/availability/{product.sku}/", {"quantity": 8})
    assert stale.status_code == 200, stale.content
    body = stale.json()
    # The last figures read from the database: before the reservation.
    assert (body["available"], body["requested"], body["can_serve"]) == (10, 8, True)
    assert body["stale"] is True
    assert body["age_seconds"] >= 1
    assert stale.headers["Warning"].startswith('110 stockroom "Response is Stale')

    db_errors.database_outage.recovered()
    current = api.get(f"/api/v1/availability/{product.sku}/", {"quantity": 8}).json()
    assert (current["available"], current["can_serve"], current["stale"]) == (7, False, False)


def test_without_last_known_figures_the_read_is_a_503(merchant, product, location):
    factories.stock(product, location, 10)
    api = client_for(merchant)
    api.get("/api/v1/products/")  # the key is known to this process
    database_down()
    refused = api.get(f"/api/v1/availability/{product.sku}/")
    assert refused.status_code == 503
    assert refused.json()["code"] == "database_unavailable"
    assert int(refused.headers["Retry-After"]) > 0


def test_figures_current_in_the_cache_are_served_as_current(merchant, product, location):
    """No stock can change while the database is away: figures at the current generation are
    the truth, not stale."""
    factories.stock(product, location, 10)
    api = client_for(merchant)
    api.get(f"/api/v1/availability/{product.sku}/")
    availability_cache._local.clear()
    database_down()
    served = api.get(f"/api/v1/availability/{product.sku}/").json()
    assert (served["available"], served["stale"]) == (10, False)


def test_a_known_key_authenticates_while_the_database_is_unreachable(merchant, settings):
    settings.STOCKROOM_API_KEY_CACHE_SECONDS = 0.01
    api = client_for(merchant)
    key = authenticate_key(api.raw_key)
    assert key is not None
    time.sleep(0.02)  # past the short cache: a normal read would ask the database
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=key.created_at)  # cannot happen then
    database_down()
    assert authenticate_key(api.raw_key) == key
    assert authenticate_key("sr_" + "x" * 40) is None  # no fallback for a key never seen
    db_errors.database_outage.recovered()
    assert authenticate_key(api.raw_key) is None  # back: the database decides again
