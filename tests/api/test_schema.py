"""The OpenAPI document and its Swagger UI."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("/api/v1/products/", "get"), ("/api/v1/products/", "post"),
    ("/api/v1/products/{sku}/", "delete"), ("/api/v1/locations/{code}/", "patch"),
    ("/api/v1/stock/", "get"), ("/api/v1/stock/{sku}/{location}/", "get"),
    ("/api/v1/availability/{sku}/", "get"), ("/api/v1/stock/receipts/", "post"),
    ("/api/v1/stock/shipments/", "post"), ("/api/v1/stock/adjustments/", "post"),
    ("/api/v1/stock/counts/", "post"), ("/api/v1/stock/damages/", "post"),
    ("/api/v1/reservations/", "post"), ("/api/v1/reservations/{reservation_id}/commit/", "post"),
    ("/api/v1/reservations/{reservation_id}/release/", "post"),
    ("/api/v1/reservations/{reservation_id}/extend/", "post"),
    ("/api/v1/transfers/", "post"), ("/api/v1/transfers/{transfer_id}/ship/", "post"),
    ("/api/v1/transfers/{transfer_id}/receive/", "post"),
    ("/api/v1/transfers/{transfer_id}/cancel/", "post"), ("/api/v1/ledger/", "get"),
    ("/api/v1/ledger/export/", "get"), ("/api/v1/bulk/stock/", "post"), ("/api/v1/events/", "post"),
}  # fmt: skip


def test_schema_describes_every_endpoint_and_its_errors():
    response = APIClient().get(
        "/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}
    )
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in schema["paths"].items() for method in ops}
    assert documented >= OPERATIONS
    receipt = schema["paths"]["/api/v1/stock/receipts/"]["post"]
    for status in ("201", "400", "401", "403", "404", "409", "412", "413", "422", "429", "503"):
        assert status in receipt["responses"], status
    problem = receipt["responses"]["409"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    headers = {p["name"] for p in receipt["parameters"] if p["in"] == "header"}
    assert {"Idempotency-Key", "If-Match"} <= headers
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    product = schema["components"]["schemas"]["Product"]["properties"]
    assert {"sku", "name", "description", "price", "barcode", "unit", "active"} <= set(product)


def test_swagger_ui_is_served_without_a_cdn():
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html
