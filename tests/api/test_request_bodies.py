"""Bad request bodies get a clean 4xx problem+json on every write, and change nothing: bodies
nested too deeply, bodies over Django's size limits."""

from __future__ import annotations

import json
import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.catalog.models import Product
from apps.core.models import IdempotencyRecord
from apps.inventory.models import LedgerEntry, Reservation, StockLevel, Transfer
from apps.locations.models import Location
from tests.api.operations import SCHEMA, WRITES, concrete, operation_id, seed
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


def valid_bodies(values: dict[str, str]) -> dict[tuple[str, str], dict]:
    """A body each write accepts (bodiless actions and deletes take `{}`)."""
    sku, location = values["sku"], values["location"]
    line = {"sku": sku, "location": location, "quantity": 1}
    event = {"source": "pos-1", "event_id": "e-1", "sequence": 1, "type": "sale", **line}
    record = {"productId": sku, "warehouseId": location, "quantity": 1}
    return {
        ("POST", "/api/v1/products/"): {"sku": "NEW-1", "name": "New"},
        ("PUT", "/api/v1/products/{sku}/"): {"sku": sku, "name": "Renamed"},
        ("PATCH", "/api/v1/products/{sku}/"): {"name": "Renamed"},
        ("POST", "/api/v1/locations/"): {"code": "new-loc", "name": "New"},
        ("PUT", "/api/v1/locations/{code}/"): {"code": location, "name": "Renamed"},
        ("PATCH", "/api/v1/locations/{code}/"): {"name": "Renamed"},
        ("PATCH", "/api/v1/stock/{sku}/{location}/"): {"safety_stock": 1},
        ("POST", "/api/v1/stock/receipts/"): line,
        ("POST", "/api/v1/stock/shipments/"): line,
        ("POST", "/api/v1/stock/adjustments/"): {
            "sku": sku,
            "location": location,
            "delta": 1,
            "reason": "Found",
        },
        ("POST", "/api/v1/stock/counts/"): {**line, "quantity": 40},
        ("POST", "/api/v1/stock/damages/"): line,
        ("POST", "/api/v1/stock/write-offs/"): line,
        ("POST", "/api/v1/reservations/"): {"lines": [{"sku": sku, "quantity": 1}]},
        ("POST", "/api/v1/reservations/{reservation_id}/extend/"): {"ttl_seconds": 60},
        ("POST", "/api/v1/transfers/"): {
            "source": location,
            "destination": "empty-store",
            "lines": [{"sku": sku, "quantity": 1}],
        },
        ("POST", "/api/v1/bulk/stock/"): {"mode": "count", "lines": [{**line, "quantity": 40}]},
        ("POST", "/api/v1/events/"): {"events": [event]},
        ("POST", "/api/v1/warehouses/"): {"name": "New", "location": "1 Dock Rd"},
        ("PUT", "/api/v1/warehouses/{warehouse_id}/"): {"name": "Renamed"},
        ("POST", "/api/v1/inventory/"): record,
        ("PUT", "/api/v1/inventory/{inventory_id}/"): {"quantity": 40},
        ("POST", "/api/v1/inventory/adjust/"): {
            "productId": sku,
            "warehouseId": location,
            "quantityChange": 1,
            "reason": "restock",
        },
        ("POST", "/api/v1/inventory/bulk-update/"): {"updates": [{**record, "quantity": 40}]},
        ("POST", "/api/v1/warehouses/transfer/"): {
            "productId": sku,
            "fromWarehouseId": location,
            "toWarehouseId": "empty-store",
            "quantity": 1,
        },
        ("POST", "/api/v1/reservations/{reservation_id}/return/"): {"disposition": "restock"},
        ("POST", "/api/v1/transfers/{transfer_id}/ship/"): {"carrier": "DHL"},
        ("POST", "/api/v1/substitution-groups/"): {
            "code": "spares",
            "name": "Spares",
            "members": [{"sku": "SPARE-1", "units": 1}, {"sku": "SPARE-2", "units": 2}],
        },
        ("PATCH", "/api/v1/substitution-groups/{code}/"): {"name": "Renamed"},
    }


def has_body(operation: tuple[str, str]) -> bool:
    method, path = operation
    return "requestBody" in SCHEMA["paths"][path][method.lower()]


def test_every_write_with_a_body_has_a_valid_example_here(merchant):
    documented = {operation for operation in WRITES if has_body(operation)}
    assert set(valid_bodies(seed(merchant))) == documented


@pytest.mark.parametrize("operation", WRITES, ids=operation_id)
def test_an_unknown_field_is_a_400_naming_it_on_every_write(api, merchant, operation):
    method, template = operation
    values = seed(merchant)
    path = concrete(template, values)
    body = valid_bodies(values).get(operation, {})
    before = state(merchant)
    response = send(api, method, path, json.dumps({**body, "unexpected_field": 1}))
    problem = assert_problem(response, 400, "invalid_request")
    assert list(problem["fields"]) == ["unexpected_field"]
    assert problem["fields"]["unexpected_field"][0].startswith("Unknown field.")
    assert state(merchant) == before
    # The unknown field was the only fault: without it the request passes validation.
    assert send(api, method, path, json.dumps(body)).status_code != 400


WRITES_WITH_LINES = sorted(
    operation
    for operation, body in valid_bodies({"sku": "", "location": ""}).items()
    if "lines" in body
)


@pytest.mark.parametrize("operation", WRITES_WITH_LINES, ids=operation_id)
def test_an_unknown_field_in_a_line_is_a_400_naming_its_path(api, merchant, operation):
    method, template = operation
    values = seed(merchant)
    body = valid_bodies(values)[operation]
    body = {**body, "lines": [{**body["lines"][0], "quantity_": 1}]}
    before = state(merchant)
    response = send(api, method, concrete(template, values), json.dumps(body))
    problem = assert_problem(response, 400, "invalid_request")
    assert "lines.0.quantity_" in problem["fields"]
    assert state(merchant) == before


def test_a_misspelled_expected_version_is_refused_not_ignored(api, merchant):
    values = seed(merchant)
    line = {"sku": values["sku"], "location": values["location"], "quantity": 5}
    before = state(merchant)
    response = api.post_stock("/api/v1/stock/receipts/", {**line, "expected_verison": 0})
    problem = assert_problem(response, 400, "invalid_request")
    assert problem["fields"] == {
        "expected_verison": ["Unknown field. Did you mean 'expected_version'?"]
    }
    batch = {"lines": [{**line, "expected_verison": 0}]}
    response = api.post_stock("/api/v1/stock/receipts/", batch)
    assert assert_problem(response, 400, "invalid_request")["fields"] == {
        "lines.0.expected_verison": ["Unknown field. Did you mean 'expected_version'?"]
    }
    assert state(merchant) == before


def test_a_reservation_with_ttl_instead_of_ttl_seconds_is_refused(api, merchant):
    values = seed(merchant)
    before = state(merchant)
    body = {"lines": [{"sku": values["sku"], "quantity": 1}], "ttl": 5}
    response = api.post_stock("/api/v1/reservations/", body)
    problem = assert_problem(response, 400, "invalid_request")
    assert problem["fields"] == {"ttl": ["Unknown field. Did you mean 'ttl_seconds'?"]}
    assert state(merchant) == before


def test_unknown_and_invalid_fields_are_reported_together(api, merchant):
    seed(merchant)
    response = api.post_stock("/api/v1/stock/receipts/", {"sku": "X", "quantity": -1, "qty": 1})
    fields = assert_problem(response, 400, "invalid_request")["fields"]
    assert set(fields) == {"qty", "location", "quantity"}


def test_bulk_lines_refuse_the_other_mode_s_field(api, merchant):
    values = seed(merchant)
    line = {"sku": values["sku"], "location": values["location"], "quantity": 40, "delta": -2}
    response = api.post_stock("/api/v1/bulk/stock/", {"mode": "count", "lines": [line]})
    problem = assert_problem(response, 400, "invalid_request")
    assert list(problem["fields"]) == ["lines.0.delta"]


def test_an_event_with_an_unknown_field_is_rejected_naming_it(api, merchant):
    values = seed(merchant)
    event = {"source": "pos-1", "event_id": "e-1", "sequence": 1, "type": "count",
             "sku": values["sku"], "location": values["location"], "quantity": 3}  # fmt: skip
    before = state(merchant)
    response = api.post_stock("/api/v1/events/", {"events": [{**event, "occured_at": "x"}]})
    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["outcome"] == "rejected"
    assert result["fields"] == {"occured_at": ["Unknown field. Did you mean 'occurred_at'?"]}
    assert state(merchant) == {**before, "keys": before["keys"] + 1}


def test_read_only_fields_of_a_read_object_may_be_sent_back(api, merchant):
    values = seed(merchant)
    path = f"/api/v1/products/{values['sku']}/"
    product = api.get(path).json()
    response = api.put(path, {**product, "name": "Renamed"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Renamed"


def test_the_schema_forbids_unknown_fields_in_every_request_body():
    components = SCHEMA["components"]["schemas"]

    def objects(schema: dict):
        if "$ref" in schema:
            schema = components[schema["$ref"].rsplit("/", 1)[1]]
        for part in schema.get("oneOf", []) + schema.get("allOf", []):
            yield from objects(part)
        if schema.get("type") == "object" and "properties" in schema:
            yield schema
            for prop in schema["properties"].values():
                yield from objects(prop)
        if schema.get("type") == "array":
            yield from objects(schema["items"])

    checked = 0
    for method, path in WRITES:
        if not has_body((method, path)):
            continue
        content = SCHEMA["paths"][path][method.lower()]["requestBody"]["content"]
        for body in objects(content["application/json"]["schema"]):
            assert body.get("additionalProperties") is False, (method, path, body)
            checked += 1
    assert checked >= len([op for op in WRITES if has_body(op)])
