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
    # The specification's calls
    ("/api/v1/products/{sku}/", "put"), ("/api/v1/products/{sku}/", "get"),
    ("/api/v1/warehouses/", "post"), ("/api/v1/warehouses/", "get"),
    ("/api/v1/warehouses/{warehouse_id}/", "get"), ("/api/v1/warehouses/{warehouse_id}/", "put"),
    ("/api/v1/warehouses/{warehouse_id}/", "delete"), ("/api/v1/warehouses/transfer/", "post"),
    ("/api/v1/inventory/", "post"), ("/api/v1/inventory/{inventory_id}/", "get"),
    ("/api/v1/inventory/{inventory_id}/", "put"), ("/api/v1/inventory/{inventory_id}/", "delete"),
    ("/api/v1/inventory/overall/{product_id}/", "get"), ("/api/v1/inventory/check/", "get"),
    ("/api/v1/inventory/adjust/", "post"),
    ("/api/v1/inventory/warehouses/{warehouse_id}/stock/", "get"),
    ("/api/v1/inventory/bulk-update/", "post"), ("/api/v1/inventory/low-stock/", "get"),
    # Alerts and reports
    ("/api/v1/alerts/", "get"), ("/api/v1/alerts/{alert_id}/", "get"),
    ("/api/v1/alerts/{alert_id}/acknowledge/", "post"), ("/api/v1/alerts/{alert_id}/resolve/", "post"),
    ("/api/v1/reports/stock-by-location/", "get"), ("/api/v1/reports/low-stock/", "get"),
    ("/api/v1/reports/out-of-stock/", "get"), ("/api/v1/reports/movements/", "get"),
    ("/api/v1/reports/top-movers/", "get"), ("/api/v1/reports/reservations-expiring/", "get"),
    ("/api/v1/reports/transfers-in-transit/", "get"), ("/api/v1/reports/stock-as-of/", "get"),
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
    assert {"success", "productId"} <= set(product)
    report = schema["paths"]["/api/v1/reports/low-stock/"]["get"]["responses"]["200"]["content"]
    assert set(report) == {"application/json", "text/csv"}


def test_swagger_ui_is_served_without_a_cdn():
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html
