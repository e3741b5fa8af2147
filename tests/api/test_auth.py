"""Authentication, merchant selection and read-only credentials (rate limits: test_rate_limit)."""

import pytest
from rest_framework.test import APIClient

from apps.apikeys.services import api_key_create, api_key_revoke
from apps.inventory.models import StockLevel
from apps.merchants.models import Membership
from tests import factories

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert {"type", "title", "detail", "fields"} <= set(body)
    return body


def test_missing_key_is_401_with_a_challenge():
    response = APIClient().get("/api/v1/products/")
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer sr_wrong", "Bearer", "Bearer a b", "Bearer \xe9"])
def test_bad_key_is_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_problem(client.get("/api/v1/products/"), 401, "authentication_failed")


def test_revoked_key_is_401(merchant):
    api_key, raw_key = api_key_create(merchant=merchant, name="x")
    api_key_revoke(api_key=api_key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert_problem(client.get("/api/v1/products/"), 401, "authentication_failed")


def test_read_only_key_reads_but_cannot_write(read_only_api, product, location):
    assert read_only_api.get("/api/v1/products/").status_code == 200
    body = {"sku": product.sku, "location": location.code, "quantity": 1}
    assert_problem(read_only_api.post_stock("/api/v1/stock/receipts/", body), 403,
                   "permission_denied")  # fmt: skip
    assert_problem(
        read_only_api.post("/api/v1/products/", {"sku": "N", "name": "N"}, format="json"),
        403,
        "permission_denied",
    )


def test_session_user_acts_for_their_only_merchant(merchant, owner, product):
    client = APIClient()
    client.force_login(owner)
    response = client.get("/api/v1/products/")
    assert response.status_code == 200
    assert [p["sku"] for p in response.json()["results"]] == [product.sku]


def test_session_user_with_several_merchants_chooses_one(merchant, other_merchant, owner,
                                                         product):  # fmt: skip
    Membership.objects.create(user=owner, merchant=other_merchant, role="owner")
    other_product = factories.product(other_merchant)
    client = APIClient()
    client.force_login(owner)
    body = assert_problem(client.get("/api/v1/products/"), 400, "invalid_request")
    assert "merchant" in body["fields"]
    by_header = client.get("/api/v1/products/", headers={"X-Merchant": other_merchant.code})
    assert [p["sku"] for p in by_header.json()["results"]] == [other_product.sku]
    by_query = client.get(f"/api/v1/products/?merchant={merchant.code}")
    assert [p["sku"] for p in by_query.json()["results"]] == [product.sku]
    stranger = factories.merchant()
    assert_problem(
        client.get("/api/v1/products/", headers={"X-Merchant": stranger.code}), 404, "not_found"
    )


def test_session_viewer_cannot_write_and_session_writes_need_csrf(merchant, product, location):
    viewer = factories.user(merchant, role=Membership.Role.VIEWER)
    client = APIClient()
    client.force_login(viewer)
    assert client.get("/api/v1/stock/").status_code == 200
    body = {"sku": product.sku, "location": location.code, "quantity": 1}
    response = client.post("/api/v1/stock/receipts/", body, format="json",
                           headers={"Idempotency-Key": "k1"})  # fmt: skip
    assert_problem(response, 403, "permission_denied")
    manager = factories.user(merchant, role=Membership.Role.MANAGER)
    strict = APIClient(enforce_csrf_checks=True)
    strict.force_login(manager)
    response = strict.post("/api/v1/stock/receipts/", body, format="json",
                           headers={"Idempotency-Key": "k2"})  # fmt: skip
    assert_problem(response, 403, "permission_denied")


def test_session_user_without_membership_is_403():
    client = APIClient()
    client.force_login(factories.user())
    assert_problem(client.get("/api/v1/products/"), 403, "permission_denied")


@pytest.fixture
def redis_backoff_reset():
    from apps.api import throttling
    from apps.inventory import availability_cache

    yield
    throttling.redis_path.down_until = availability_cache.redis_path.down_until = 0.0


def test_an_unreachable_cache_lets_requests_through_unmetered(
    settings, api, product, location, unused_port, redis_backoff_reset
):
    dead = f"redis://127.0.0.1:{unused_port}/0"  # nothing listens there
    settings.REDIS_URL = dead
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": dead,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    settings.STOCKROOM_API_RATE_LIMIT = "1/min"
    for _ in range(2):
        response = api.post_stock(
            "/api/v1/stock/receipts/",
            {"sku": product.sku, "location": location.code, "quantity": 1},
        )
        assert response.status_code == 201, response.content
    assert StockLevel.objects.get(product=product, location=location).on_hand == 2


def test_a_manager_limited_to_some_locations_changes_stock_only_there(
    merchant, product, location, other_location
):
    factories.stock(product, location, 10)
    factories.stock(product, other_location, 10)
    manager = factories.user(merchant, role=Membership.Role.MANAGER)
    manager.memberships.get().locations.set([location])
    client = APIClient()
    client.force_login(manager)

    def post(path, body=None):
        return client.post(path, body, format="json", headers={"Idempotency-Key": factories.key()})

    assert len(client.get("/api/v1/stock/").json()["results"]) == 2  # reads everything
    mine = {"sku": product.sku, "location": location.code, "quantity": 1}
    theirs = {**mine, "location": other_location.code}
    assert post("/api/v1/stock/shipments/", mine).status_code == 201
    assert_problem(post("/api/v1/stock/shipments/", theirs), 403, "permission_denied")
    assert_problem(post("/api/v1/bulk/stock/", {"mode": "count", "lines": [theirs]}), 403,
                   "permission_denied")  # fmt: skip
    unlocated = {"lines": [{"sku": product.sku, "quantity": 1}]}
    assert_problem(post("/api/v1/reservations/", unlocated), 403, "permission_denied")
    reserved = post("/api/v1/reservations/", {"lines": [mine]})
    assert post(f"/api/v1/reservations/{reserved.json()['id']}/commit/").status_code == 200
    transfer = post("/api/v1/transfers/", {"source": other_location.code,
                                           "destination": location.code,
                                           "lines": [{"sku": product.sku, "quantity": 1}]})  # fmt: skip
    assert_problem(transfer, 403, "permission_denied")
    events = post("/api/v1/events/", {"events": [
        {"source": "pos", "event_id": "1", "sequence": 1, "type": "sale", "sku": product.sku,
         "location": other_location.code, "quantity": 1}]})  # fmt: skip
    assert events.json()["results"][0]["code"] == "permission_denied"
    assert_problem(client.patch(f"/api/v1/locations/{location.code}/", {"name": "Mine"},
                                format="json"), 403, "permission_denied")  # fmt: skip
    assert StockLevel.objects.get(product=product, location=other_location).on_hand == 10
    assert StockLevel.objects.get(product=product, location=location).on_hand == 8
