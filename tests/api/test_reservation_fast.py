"""The reservation write's plain path (one line at a named location by a key that may write,
answered without building DRF's request) answers exactly as DRF's path does, spends the
same budget once, and leaves everything else to DRF's path."""

from __future__ import annotations

import pytest

from apps.inventory import services
from apps.inventory.api.order_views import ReservationListView
from apps.inventory.models import StockLevel
from tests import factories
from tests.api.conftest import client_for
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db
COMPARED_HEADERS = ("Content-Type", "Allow", "RateLimit-Limit", "X-Content-Type-Options")


def order(sku, location, quantity):
    return {"lines": [{"sku": sku, "location": location, "quantity": quantity}]}


def both_paths(monkeypatch, client, body):
    plain = client.post_stock("/api/v1/reservations/", body)
    with monkeypatch.context() as patched:
        patched.setattr(ReservationListView, "_reserve_plainly", lambda self, request: None)
        drf = client.post_stock("/api/v1/reservations/", body)
    return plain, drf


def shape(response):
    body = response.json()
    if response.status_code == 201:
        return {k: v for k, v in body.items() if k not in {"id", "expires_at", "created_at"}}
    return body


@pytest.mark.parametrize("quantity", [2, 50])
def test_the_plain_path_answers_as_drf_does(monkeypatch, merchant, product, location, quantity):
    factories.stock(product, location, 10)
    plain, drf = both_paths(
        monkeypatch, client_for(merchant), order(product.sku, location.code, quantity)
    )
    assert plain.status_code == drf.status_code == (201 if quantity == 2 else 409)
    if quantity == 2:
        assert shape(plain) == shape(drf)
    else:
        plain_lines, drf_lines = plain.json().pop("lines"), drf.json().pop("lines")
        assert plain_lines[0]["requested"] == drf_lines[0]["requested"] == 50
        assert plain.json()["code"] == drf.json()["code"] == "insufficient_stock"
    for name in COMPARED_HEADERS:
        assert plain.get(name) == drf.get(name), name
    assert set(plain.headers) == set(drf.headers)


def test_a_budget_is_spent_once_when_the_plain_path_hands_over(
    settings, merchant, product, location
):
    """A level with buckets is left to DRF's path after the plain path spent the budget:
    RateLimit-Remaining goes down by one per request all the same."""
    factories.stock(product, location, 40)
    services.stock_level_configure(
        merchant=merchant, product=product, location=location, actor=None,
        idempotency_key=factories.key(), bucket_count=4,
    )  # fmt: skip
    settings.STOCKROOM_API_RATE_LIMIT = "5/min"
    client = client_for(merchant)
    remaining = []
    for _ in range(3):
        response = client.post_stock("/api/v1/reservations/", order(product.sku, location.code, 1))
        assert response.status_code == 201, response.content
        remaining.append(int(response["RateLimit-Remaining"]))
    assert remaining == [4, 3, 2]


def test_what_the_plain_path_does_not_take_drf_s_path_answers(merchant, product, location):
    factories.stock(product, location, 10)
    read_only = client_for(merchant, read_only=True)
    assert_problem(read_only.post_stock("/api/v1/reservations/", order(product.sku,
                   location.code, 1)), 403, "permission_denied")  # fmt: skip
    client = client_for(merchant)
    no_key = client.post("/api/v1/reservations/", order(product.sku, location.code, 1),
                         format="json")  # fmt: skip
    assert_problem(no_key, 400, "invalid_request")
    unknown = client.post_stock("/api/v1/reservations/", order("NOPE", location.code, 1))
    assert assert_problem(unknown, 400, "invalid_request")["fields"] == {
        "lines.0.sku": ["Unknown SKU NOPE."]
    }
    nested = client.post_stock("/api/v1/reservations/", None, content_type="application/json")
    assert nested.status_code == 400
    assert StockLevel.objects.get(product=product, location=location).reserved == 0
