"""The availability read's plain path (a GET by API key without parameters, answered without
building DRF's request) answers exactly as DRF's path does, and spends the same budget."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.inventory.api.stock_views import AvailabilityView
from tests import factories
from tests.api.conftest import client_for
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db
COMPARED_HEADERS = ("Content-Type", "Allow", "RateLimit-Limit", "X-Content-Type-Options")


def both_paths(monkeypatch, client, path):
    plain = client.get(path)
    with monkeypatch.context() as patched:
        patched.setattr(AvailabilityView, "_answer_plainly", lambda self, request, sku: None)
        drf = client.get(path)
    return plain, drf


@pytest.mark.parametrize("known", [True, False])
def test_the_plain_path_answers_as_drf_does(monkeypatch, merchant, product, location, known):
    factories.stock(product, location, 7)
    client = client_for(merchant)
    sku = product.sku if known else "NOPE"
    plain, drf = both_paths(monkeypatch, client, f"/api/v1/availability/{sku}/")
    assert plain.status_code == drf.status_code == (200 if known else 404)
    assert plain.json() == drf.json()
    for name in COMPARED_HEADERS:
        assert plain.get(name) == drf.get(name), name
    assert set(plain.headers) == set(drf.headers)


def test_it_spends_the_same_budget(settings, merchant, product, location):
    factories.stock(product, location, 7)
    settings.STOCKROOM_API_RATE_LIMIT = "3/min"
    client = client_for(merchant)
    remaining = [
        int(client.get(f"/api/v1/availability/{product.sku}/")["RateLimit-Remaining"])
        for _ in range(3)
    ]
    assert remaining == [2, 1, 0]
    refused = client.get(f"/api/v1/availability/{product.sku}/")
    assert_problem(refused, 429, "throttled")
    assert int(refused["Retry-After"]) >= 1


def test_what_the_plain_path_does_not_take_drf_s_path_answers(merchant, product, location):
    factories.stock(product, location, 7)
    key_client = client_for(merchant)
    with_quantity = key_client.get(f"/api/v1/availability/{product.sku}/?quantity=8")
    assert with_quantity.json()["can_serve"] is False
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer sr_wrong")
    assert_problem(wrong.get(f"/api/v1/availability/{product.sku}/"), 401,
                   "authentication_failed")  # fmt: skip
    session = APIClient()
    session.force_login(factories.user(merchant))
    assert session.get(f"/api/v1/availability/{product.sku}/").json()["available"] == 7
    assert_problem(APIClient().get(f"/api/v1/availability/{product.sku}/"), 401,
                   "not_authenticated")  # fmt: skip
