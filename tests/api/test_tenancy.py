"""A key sees and changes only its merchant's data: another merchant's objects do not exist
for it (404, or a field error naming them in a body), on every endpoint."""

import uuid

import pytest

from apps.alerts.models import Alert
from apps.alerts.services import alert_raise
from apps.inventory import services
from apps.inventory.models import LedgerEntry, StockLevel
from tests import factories
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_merchant):
    """Another merchant's product, location, stock, reservation and transfer."""
    product = factories.product(other_merchant, sku="THEIRS-1")
    location = factories.location(other_merchant, code="their-wh")
    second = factories.location(other_merchant, code="their-store")
    level = factories.stock(product, location, 20)
    reservation = services.reservation_create(
        merchant=other_merchant,
        lines=[services.ReservationLineRequest(product=product, quantity=2)],
        actor=None,
        idempotency_key=factories.key(),
    )
    transfer = services.transfer_create(
        merchant=other_merchant, source_location=location, destination_location=second,
        lines=[services.TransferLineRequest(product=product, quantity=1)], actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    alert = alert_raise(
        merchant_id=other_merchant.pk, kind=Alert.Kind.LEDGER_DRIFT, subject="theirs",
        message="Ledger drift", stock_level=level, product_id=product.pk,
        location_id=location.pk,
    )  # fmt: skip
    return {"product": product, "location": location, "reservation": reservation,
            "transfer": transfer, "level": level, "alert": alert}  # fmt: skip


READS = [
    "/api/v1/products/THEIRS-1/",
    "/api/v1/locations/their-wh/",
    "/api/v1/stock/THEIRS-1/their-wh/",
    "/api/v1/availability/THEIRS-1/",
    "/api/v1/reservations/{reservation}/",
    "/api/v1/transfers/{transfer}/",
    "/api/v1/warehouses/their-wh",
    "/api/v1/inventory/{level}",
    "/api/v1/inventory/overall/THEIRS-1",
    "/api/v1/inventory/warehouses/their-wh/stock",
    "/api/v1/inventory/check?sku=THEIRS-1",
    "/api/v1/alerts/{alert}",
]
WRITES = [
    ("patch", "/api/v1/products/THEIRS-1/", {"name": "Mine now"}),
    ("put", "/api/v1/products/THEIRS-1/", {"sku": "THEIRS-1", "name": "Mine now"}),
    ("delete", "/api/v1/products/THEIRS-1/", None),
    ("patch", "/api/v1/locations/their-wh/", {"name": "Mine now"}),
    ("put", "/api/v1/locations/their-wh/", {"code": "their-wh", "name": "Mine now"}),
    ("delete", "/api/v1/locations/their-wh/", None),
    ("patch", "/api/v1/stock/THEIRS-1/their-wh/", {"safety_stock": 3}),
    ("post", "/api/v1/reservations/{reservation}/commit/", None),
    ("post", "/api/v1/reservations/{reservation}/release/", None),
    ("post", "/api/v1/reservations/{reservation}/extend/", {"ttl_seconds": 60}),
    ("post", "/api/v1/transfers/{transfer}/ship/", None),
    ("post", "/api/v1/transfers/{transfer}/receive/", None),
    ("post", "/api/v1/transfers/{transfer}/cancel/", None),
    ("put", "/api/v1/warehouses/their-wh", {"name": "Mine now"}),
    ("delete", "/api/v1/warehouses/their-wh", None),
    ("put", "/api/v1/inventory/{level}", {"quantity": 0}),
    ("delete", "/api/v1/inventory/{level}", None),
    ("post", "/api/v1/alerts/{alert}/acknowledge", None),
    ("post", "/api/v1/alerts/{alert}/resolve", None),
]
BODIES = [
    ("/api/v1/stock/receipts/", {"sku": "THEIRS-1", "location": "their-wh", "quantity": 1}),
    ("/api/v1/stock/shipments/", {"sku": "THEIRS-1", "location": "their-wh", "quantity": 1}),
    ("/api/v1/stock/damages/", {"sku": "THEIRS-1", "location": "their-wh", "quantity": 1}),
    ("/api/v1/stock/write-offs/", {"sku": "THEIRS-1", "location": "their-wh", "quantity": 1}),
    ("/api/v1/stock/counts/", {"sku": "THEIRS-1", "location": "their-wh", "quantity": 0}),
    ("/api/v1/stock/adjustments/",
     {"sku": "THEIRS-1", "location": "their-wh", "delta": -1, "reason": "x"}),
    ("/api/v1/reservations/", {"lines": [{"sku": "THEIRS-1", "quantity": 1}]}),
    ("/api/v1/transfers/",
     {"source": "their-wh", "destination": "their-store", "lines": [{"sku": "THEIRS-1",
                                                                     "quantity": 1}]}),
    ("/api/v1/bulk/stock/", {"mode": "count", "atomic": True,
                             "lines": [{"sku": "THEIRS-1", "location": "their-wh",
                                        "quantity": 0}]}),
    ("/api/v1/inventory", {"productId": "THEIRS-1", "warehouseId": "their-wh", "quantity": 1}),
    ("/api/v1/inventory/adjust", {"productId": "THEIRS-1", "warehouseId": "their-wh",
                                  "quantityChange": -1, "reason": "correction"}),
    ("/api/v1/inventory/bulk-update", {"updates": [{"productId": "THEIRS-1",
                                                    "warehouseId": "their-wh", "quantity": 0}]}),
    ("/api/v1/warehouses/transfer", {"productId": "THEIRS-1", "fromWarehouseId": "their-wh",
                                     "toWarehouseId": "their-store", "quantity": 1}),
]  # fmt: skip


def _url(template: str, theirs: dict) -> str:
    return template.format(
        reservation=theirs["reservation"].pk, transfer=theirs["transfer"].pk,
        level=theirs["level"].pk, alert=theirs["alert"].pk,
    )  # fmt: skip


def _snapshot(merchant):
    return (
        list(StockLevel.objects.filter(merchant=merchant).values()),
        LedgerEntry.objects.filter(merchant=merchant).count(),
    )


@pytest.mark.parametrize("template", READS)
def test_reads_of_another_merchants_objects_are_404(api, theirs, template):
    assert_problem(api.get(_url(template, theirs)), 404, "not_found")


@pytest.mark.parametrize(("method", "template", "body"), WRITES)
def test_writes_to_another_merchants_objects_are_404_and_change_nothing(
    api, theirs, other_merchant, method, template, body
):
    before = _snapshot(other_merchant)
    response = getattr(api, method)(
        _url(template, theirs), body, format="json", headers={"Idempotency-Key": factories.key()}
    )
    assert_problem(response, 404, "not_found")
    assert _snapshot(other_merchant) == before
    theirs["product"].refresh_from_db()
    assert theirs["product"].name != "Mine now"
    assert Alert.objects.get(pk=theirs["alert"].pk).status == "triggered"


@pytest.mark.parametrize(("path", "body"), BODIES)
def test_another_merchants_codes_in_a_body_are_unknown_fields(
    api, theirs, other_merchant, path, body
):
    before = _snapshot(other_merchant)
    response = api.post_stock(path, body)
    problem = assert_problem(response, 400, "invalid_request")
    assert any("Unknown" in m for messages in problem["fields"].values() for m in messages)
    assert _snapshot(other_merchant) == before


def test_lists_and_the_ledger_show_only_the_keys_merchant(api, theirs, product, location):
    factories.stock(product, location, 5)
    for path in ["/api/v1/products/", "/api/v1/locations/", "/api/v1/stock/",
                 "/api/v1/reservations/", "/api/v1/transfers/", "/api/v1/ledger/",
                 "/api/v1/warehouses", "/api/v1/inventory/low-stock",
                 "/api/v1/alerts"]:  # fmt: skip
        text = api.get(path).content.decode()
        assert "THEIRS-1" not in text, path
        assert "their-wh" not in text, path
        assert str(theirs["reservation"].pk) not in text
        assert str(theirs["transfer"].pk) not in text
    export = b"".join(api.get("/api/v1/ledger/export/").streaming_content).decode("utf-8-sig")
    assert product.sku in export
    assert "THEIRS-1" not in export


def test_events_for_another_merchants_codes_are_rejected(api, theirs, other_merchant):
    before = _snapshot(other_merchant)
    response = api.post_stock("/api/v1/events/", {"events": [
        {"source": "pos", "event_id": "1", "sequence": 1, "type": "sale", "sku": "THEIRS-1",
         "location": "their-wh", "quantity": 1},
    ]})  # fmt: skip
    assert response.status_code == 200
    assert response.json()["results"][0]["outcome"] == "rejected"
    assert _snapshot(other_merchant) == before


def test_unknown_reservation_id_is_404(api):
    assert_problem(api.get(f"/api/v1/reservations/{uuid.uuid4()}/"), 404, "not_found")


def test_the_specifications_calls_see_only_the_keys_merchant_under_shared_ids(
    api, merchant, other_merchant
):
    """Both merchants use the SKU SHARED and the warehouse code shared-wh: each key's answers
    hold its own figures only."""
    for owner, on_hand in ((merchant, 3), (other_merchant, 40)):
        product = factories.product(owner, sku="SHARED")
        location = factories.location(owner, code="shared-wh")
        factories.stock(product, location, on_hand, low_stock_threshold=50)
    overall = api.get("/api/v1/inventory/overall/SHARED").json()
    assert (overall["totalQuantity"], len(overall["warehouses"])) == (3, 1)
    check = api.get("/api/v1/inventory/check?sku=SHARED&quantity=4").json()
    assert (check["isAvailable"], check["availableQuantity"]) == (False, 3)
    low = api.get("/api/v1/inventory/low-stock").json()["results"]
    stock = api.get("/api/v1/inventory/warehouses/shared-wh/stock").json()["results"]
    assert [row["quantity"] for row in low] == [row["quantity"] for row in stock] == [3]
    assert api.get("/api/v1/warehouses").json()["count"] == 1
    theirs = StockLevel.objects.get(merchant=other_merchant)
    assert_problem(api.get(f"/api/v1/inventory/{theirs.pk}"), 404, "not_found")
