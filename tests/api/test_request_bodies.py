"""Bad request bodies get a clean 4xx problem+json on every write, and change nothing: bodies
nested too deeply, bodies over Django's size limits."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.catalog.models import Product
from apps.inventory.models import IdempotencyRecord, LedgerEntry, Reservation, StockLevel, Transfer
from apps.locations.models import Location
from tests.api.operations import WRITES, concrete, operation_id, seed
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db


def state(merchant) -> dict:
    """Everything a write could change, to compare before and after a refusal."""
    return {
        "ledger": LedgerEntry.objects.filter(merchant=merchant).count(),
        "keys": IdempotencyRecord.objects.filter(merchant=merchant).count(),
        "levels": sorted(
            StockLevel.objects.filter(product__merchant=merchant).values_list(
                "pk", "on_hand", "reserved", "damaged", "in_transit", "version"
            )
        ),
        "products": sorted(Product.objects.filter(merchant=merchant).values_list("sku", "name")),
        "locations": sorted(
            Location.objects.filter(merchant=merchant).values_list("code", "name", "status")
        ),
        "reservations": sorted(
            Reservation.objects.filter(merchant=merchant).values_list("pk", "status")
        ),
        "transfers": sorted(Transfer.objects.filter(merchant=merchant).values_list("pk", "status")),
    }


def send(api, method: str, path: str, body: bytes | str, **headers):
    return api.generic(
        method,
        path,
        body,
        content_type="application/json",
        headers={"Idempotency-Key": str(uuid.uuid4()), **headers},
    )


@pytest.mark.parametrize("operation", WRITES, ids=operation_id)
def test_deeply_nested_json_is_a_400_problem_on_every_write(api, merchant, operation):
    method, template = operation
    path = concrete(template, seed(merchant))
    before = state(merchant)
    response = send(api, method, path, "[" * 1000 + "]" * 1000)
    body = assert_problem(response, 400, "malformed_request")
    assert "nested deeper than 32 levels" in body["detail"]
    assert state(merchant) == before


def test_nesting_up_to_the_limit_is_parsed_and_judged_by_the_serializer(api, merchant):
    seed(merchant)
    nested = "[" * 32 + "]" * 32
    response = send(api, "POST", "/api/v1/stock/receipts/", f'{{"sku": {nested}}}')
    assert_problem(response, 400, "malformed_request")  # 33 levels with the object
    response = send(api, "POST", "/api/v1/stock/receipts/", f'{{"sku": {nested[1:-1]}}}')
    body = assert_problem(response, 400, "invalid_request")
    assert "sku" in body["fields"]


def test_brackets_inside_strings_do_not_count_as_nesting(api, merchant):
    values = seed(merchant)
    response = send(
        api,
        "POST",
        "/api/v1/stock/receipts/",
        f'{{"sku": "{values["sku"]}", "location": "{values["location"]}", "quantity": 2, '
        f'"reference": "{"[{" * 60}\\"]]"}}',
    )
    assert response.status_code == 201, response.content
    assert response.json()["levels"][0]["on_hand"] == 52


@pytest.mark.parametrize("operation", WRITES, ids=operation_id)
def test_a_body_over_the_upload_limit_is_a_413_problem_on_every_write(api, merchant, operation):
    method, template = operation
    path = concrete(template, seed(merchant))
    before = state(merchant)
    oversized = '{"reference": "' + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + '"}'
    response = send(api, method, path, oversized)
    body = assert_problem(response, 413, "request_too_large")
    assert f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes" in body["detail"]
    assert state(merchant) == before


def test_too_many_query_parameters_is_a_400_problem(api, merchant):
    values = seed(merchant)
    before = state(merchant)
    query = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    body = {"sku": values["sku"], "location": values["location"], "quantity": 1}
    response = api.post_stock(f"/api/v1/stock/receipts/?{query}", body)
    assert_problem(response, 400, "too_many_fields")
    assert state(merchant) == before


def test_a_suspicious_request_outside_the_views_is_a_problem_under_api_only(api):
    response = api.get("/api/v1/products/", headers={"Host": "evil.example"})
    assert_problem(response, 400, "bad_request")
    page = APIClient().get("/admin/login/", headers={"Host": "evil.example"})
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")
