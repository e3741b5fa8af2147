"""The specification's calls, sent exactly as it writes them (its camelCase fields, no trailing
slash): their answers, and their effects on the stock levels and the ledger."""

from __future__ import annotations

import re
import uuid

import pytest

from apps.catalog.models import Product
from apps.inventory import services
from apps.inventory.ledger_replay import find_drift
from apps.inventory.models import LedgerEntry, StockLevel, Transfer
from apps.locations.models import Location
from tests import factories
from tests.api.test_auth import assert_problem
from tests.inventory.helpers import snapshot

pytestmark = pytest.mark.django_db

API = "/api/v1"
GENERATED_SKU = re.compile(r"^WIRELESS-MOUSE-[A-Z2-9]{6}$")


def key() -> dict:
    return {"Idempotency-Key": str(uuid.uuid4())}


def send(api, method: str, path: str, body=None, **headers):
    """A request as the specification writes it: JSON body, no trailing slash."""
    assert not path.endswith("/")
    return getattr(api, method)(f"{API}{path}", body, format="json", headers=headers)


def level(product, location) -> StockLevel:
    return StockLevel.objects.get(product=product, location=location)


def ledger(product, location) -> list[tuple[str, int]]:
    rows = LedgerEntry.objects.filter(product=product, location=location).order_by("id")
    return [(row.reason, row.on_hand_delta) for row in rows]


# --- Products ---------------------------------------------------------------------------------
def test_products_are_created_read_updated_and_deleted_by_product_id(api, merchant):
    body = {"name": "Wireless mouse", "description": "Two buttons", "price": "19.90"}
    created = send(api, "post", "/products", body)
    assert created.status_code == 201, created.content
    product = created.json()
    assert product["success"] is True
    assert GENERATED_SKU.match(product["productId"])
    assert product["sku"] == product["productId"]
    assert (product["name"], product["description"], product["price"]) == (
        "Wireless mouse", "Two buttons", "19.90",
    )  # fmt: skip
    product_id = product["productId"]

    read = send(api, "get", f"/products/{product_id}")
    assert (read.status_code, read.json()["success"], read.json()["productId"]) == (
        200, True, product_id,
    )  # fmt: skip

    update = {"name": "Wireless mouse II", "description": "Three buttons", "price": "24.50"}
    updated = send(api, "put", f"/products/{product_id}", update)
    assert updated.status_code == 200, updated.content
    assert updated.json()["productId"] == product_id
    stored = Product.objects.get(merchant=merchant, sku=product_id)
    assert (stored.name, stored.description, str(stored.price)) == (
        "Wireless mouse II", "Three buttons", "24.50",
    )  # fmt: skip

    deleted = send(api, "delete", f"/products/{product_id}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert not Product.objects.filter(merchant=merchant, sku=product_id).exists()
    assert_problem(send(api, "get", f"/products/{product_id}"), 404, "not_found")


def test_a_product_created_with_an_idempotency_key_is_created_once(api, merchant):
    body = {"name": "Wireless mouse", "description": "", "price": "9.00"}
    first = send(api, "post", "/products", body, **{"Idempotency-Key": "new-mouse"})
    again = send(api, "post", "/products", body, **{"Idempotency-Key": "new-mouse"})
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Product.objects.filter(merchant=merchant).count() == 1


def test_a_product_s_sku_cannot_change_through_put(api, product):
    response = send(api, "put", f"/products/{product.sku}", {"sku": "OTHER", "name": "X"})
    assert "sku" in assert_problem(response, 400, "invalid_request")["fields"]


# --- Warehouses -------------------------------------------------------------------------------
def test_warehouses_are_created_read_updated_and_deleted_by_warehouse_id(api, merchant):
    created = send(api, "post", "/warehouses", {"name": "Main Warehouse", "location": "1 Dock Rd"})
    assert created.status_code == 201, created.content
    warehouse = created.json()
    assert warehouse["success"] is True
    assert (warehouse["warehouseId"], warehouse["name"], warehouse["location"]) == (
        "main-warehouse", "Main Warehouse", "1 Dock Rd",
    )  # fmt: skip
    stored = Location.objects.get(merchant=merchant, code="main-warehouse")
    assert (stored.kind, stored.address, stored.status) == ("warehouse", "1 Dock Rd", "active")
    second = send(api, "post", "/warehouses", {"name": "Main warehouse", "location": ""})
    assert second.json()["warehouseId"] == "main-warehouse-2"

    read = send(api, "get", "/warehouses/main-warehouse")
    assert (read.status_code, read.json()["location"]) == (200, "1 Dock Rd")
    updated = send(api, "put", "/warehouses/main-warehouse", {"location": "2 Dock Rd"})
    assert updated.status_code == 200, updated.content
    assert (updated.json()["name"], updated.json()["location"]) == ("Main Warehouse", "2 Dock Rd")
    stored.refresh_from_db()
    assert stored.address == "2 Dock Rd"

    factories.location(merchant, code="corner-shop", kind="retail_store")
    listed = send(api, "get", "/warehouses").json()
    assert [w["warehouseId"] for w in listed["results"]] == ["main-warehouse", "main-warehouse-2"]
    assert_problem(send(api, "get", "/warehouses/corner-shop"), 404, "not_found")

    deleted = send(api, "delete", "/warehouses/main-warehouse-2")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert not Location.objects.filter(merchant=merchant, code="main-warehouse-2").exists()


def test_a_warehouse_with_stock_is_not_deleted(api, product, location):
    factories.stock(product, location, 3)
    response = send(api, "delete", f"/warehouses/{location.code}")
    assert assert_problem(response, 409, "invalid_state")["state"] == "stocked"
    assert Location.objects.filter(pk=location.pk).exists()


# --- Inventory records ------------------------------------------------------------------------
def test_an_inventory_record_is_received_counted_read_and_removed(api, product, location):
    body = {"productId": product.sku, "warehouseId": location.code, "quantity": 20}
    created = send(api, "post", "/inventory", body, **key())
    assert created.status_code == 201, created.content
    record = created.json()
    inventory_id = record["inventoryId"]
    assert inventory_id == level(product, location).pk
    assert record["success"] is True
    assert (record["productId"], record["warehouseId"], record["quantity"]) == (
        product.sku, location.code, 20,
    )  # fmt: skip
    assert (record["quantityChange"], record["available"]) == (20, 20)
    assert LedgerEntry.objects.get(pk=record["ledgerId"]).reason == "receive"

    read = send(api, "get", f"/inventory/{inventory_id}")
    assert (read.status_code, read.json()["quantity"], read["ETag"]) == (
        200, 20, f'"{record["version"]}"',
    )  # fmt: skip

    counted = send(api, "put", f"/inventory/{inventory_id}", {"quantity": 17}, **key())
    assert counted.status_code == 200, counted.content
    assert (counted.json()["quantity"], counted.json()["quantityChange"]) == (17, -3)
    assert ledger(product, location) == [("receive", 20), ("count", -3)]

    before = snapshot()
    refused = send(api, "delete", f"/inventory/{inventory_id}", **key())
    problem = assert_problem(refused, 409, "stock_remains")
    assert (problem["on_hand"], problem["reserved"]) == (17, 0)
    assert "still holds 17 on hand" in problem["detail"]
    assert snapshot() == before

    send(api, "put", f"/inventory/{inventory_id}", {"quantity": 0}, **key())
    removed = send(api, "delete", f"/inventory/{inventory_id}", **key())
    assert (removed.status_code, removed.content) == (204, b"")
    assert_problem(send(api, "get", f"/inventory/{inventory_id}"), 404, "not_found")
    listed = send(api, "get", f"/inventory/warehouses/{location.code}/stock").json()
    assert listed["results"] == []

    back = send(api, "post", "/inventory", {**body, "quantity": 1}, **key())
    assert (back.json()["inventoryId"], back.json()["quantity"]) == (inventory_id, 1)
    assert find_drift() == []


def test_a_record_holding_reservations_is_not_removed(api, merchant, product, location):
    stocked = factories.stock(product, location, 5)
    services.reservation_create(
        merchant=merchant, actor=None, idempotency_key=factories.key(),
        lines=[services.ReservationLineRequest(product, 2, location)],
    )  # fmt: skip
    send(api, "post", "/inventory/adjust", {
        "productId": product.sku, "warehouseId": location.code, "quantityChange": -3,
        "reason": "correction",
    }, **key())  # fmt: skip
    problem = assert_problem(send(api, "delete", f"/inventory/{stocked.pk}", **key()), 409,
                             "stock_remains")  # fmt: skip
    assert (problem["on_hand"], problem["reserved"]) == (2, 2)


def test_a_count_below_the_reserved_units_is_refused(api, merchant, product, location):
    stocked = factories.stock(product, location, 5)
    services.reservation_create(
        merchant=merchant, actor=None, idempotency_key=factories.key(),
        lines=[services.ReservationLineRequest(product, 4, location)],
    )  # fmt: skip
    before = snapshot()
    response = send(api, "put", f"/inventory/{stocked.pk}", {"quantity": 3}, **key())
    assert assert_problem(response, 409, "count_below_reserved")["reserved"] == 4
    assert snapshot() == before


def test_a_stale_if_match_on_a_count_is_412(api, product, location):
    stocked = factories.stock(product, location, 5)
    response = send(api, "put", f"/inventory/{stocked.pk}", {"quantity": 3},
                    **{**key(), "If-Match": f'"{stocked.version - 1}"'})  # fmt: skip
    assert_problem(response, 412, "version_conflict")
    assert level(product, location).on_hand == 5


def test_stock_writes_need_an_idempotency_key_and_replay_with_it(api, product, location):
    body = {"productId": product.sku, "warehouseId": location.code, "quantity": 4}
    assert "Idempotency-Key" in assert_problem(
        send(api, "post", "/inventory", body), 400, "invalid_request"
    )["fields"]  # fmt: skip
    first = send(api, "post", "/inventory", body, **{"Idempotency-Key": "receipt-7"})
    again = send(api, "post", "/inventory", body, **{"Idempotency-Key": "receipt-7"})
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again["Idempotent-Replayed"] == "true"
    assert level(product, location).on_hand == 4


def test_unknown_ids_in_a_body_are_named(api, product, location):
    body = {"productId": "NOPE", "warehouseId": "nowhere", "quantity": 1}
    fields = assert_problem(send(api, "post", "/inventory", body, **key()), 400,
                            "invalid_request")["fields"]  # fmt: skip
    assert fields == {"productId": ["Unknown product NOPE."],
                      "warehouseId": ["Unknown warehouse nowhere."]}  # fmt: skip


# --- Overall, check, warehouse stock, low stock -----------------------------------------------
def test_overall_sums_a_product_over_its_warehouses(
    api, merchant, product, location, other_location
):
    factories.stock(product, location, 10, safety_stock=1)
    factories.stock(product, other_location, 5)
    services.reservation_create(
        merchant=merchant, actor=None, idempotency_key=factories.key(),
        lines=[services.ReservationLineRequest(product, 2, location)],
    )  # fmt: skip
    services.transfer_move(
        merchant=merchant, source_location=location, destination_location=other_location,
        lines=[services.TransferLineRequest(product, 3)], actor=None, receive=False,
        idempotency_key=factories.key(),
    )  # fmt: skip
    response = send(api, "get", f"/inventory/overall/{product.sku}")
    assert response.status_code == 200, response.content
    overall = response.json()
    assert overall["success"] is True
    assert (overall["productId"], overall["totalQuantity"], overall["onHand"]) == (
        product.sku, 12, 12,
    )  # fmt: skip
    # location: 7 on hand, 2 reserved, safety 1 -> 4 available; other: 5 available
    assert (overall["reserved"], overall["available"], overall["inTransit"]) == (2, 9, 3)
    by_warehouse = {w["warehouseId"]: w for w in overall["warehouses"]}
    assert (by_warehouse[location.code]["quantity"], by_warehouse[location.code]["reserved"]) == (
        7, 2,
    )  # fmt: skip
    assert by_warehouse[other_location.code]["inTransit"] == 3
    assert_problem(send(api, "get", "/inventory/overall/NOPE"), 404, "not_found")


def test_check_says_whether_a_quantity_is_available(api, product, location, other_location):
    factories.stock(product, location, 6)
    factories.stock(product, other_location, 3)
    response = send(api, "get", f"/inventory/check?sku={product.sku}&quantity=8")
    assert response.status_code == 200, response.content
    check = response.json()
    assert (check["success"], check["isAvailable"], check["availableQuantity"]) == (True, True, 9)
    assert check["availableFromOneWarehouse"] is False
    assert {w["warehouseId"]: w["available"] for w in check["warehouses"]} == {
        location.code: 6, other_location.code: 3,
    }  # fmt: skip
    short = send(api, "get", f"/inventory/check?sku={product.sku}&quantity=10").json()
    assert (short["isAvailable"], short["availableQuantity"]) == (False, 9)
    assert "sku" in assert_problem(send(api, "get", "/inventory/check"), 400,
                                   "invalid_request")["fields"]  # fmt: skip


def test_warehouse_stock_lists_the_records_at_one_warehouse(
    api, merchant, product, location, other_location
):
    other = factories.product(merchant)
    factories.stock(product, location, 4)
    factories.stock(other, location, 2)
    factories.stock(product, other_location, 9)
    response = send(api, "get", f"/inventory/warehouses/{location.code}/stock")
    assert response.status_code == 200, response.content
    rows = [(r["productId"], r["warehouseId"], r["quantity"]) for r in response.json()["results"]]
    assert rows == sorted([(product.sku, location.code, 4), (other.sku, location.code, 2)])
    assert_problem(send(api, "get", "/inventory/warehouses/nowhere/stock"), 404, "not_found")


def test_low_stock_lists_the_low_records(api, merchant, product, location, other_location):
    factories.stock(product, location, 3, low_stock_threshold=5)
    factories.stock(product, other_location, 9, low_stock_threshold=5)
    factories.stock(factories.product(merchant), location, 0)  # empty, threshold 0: not low
    response = send(api, "get", "/inventory/low-stock")
    assert [
        (r["productId"], r["warehouseId"], r["lowStock"]) for r in response.json()["results"]
    ] == [(product.sku, location.code, True)]
    by_warehouse = send(api, "get", f"/inventory/low-stock?warehouseId={other_location.code}")
    assert by_warehouse.json()["results"] == []


# --- Adjust -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reason", "change", "ledger_reason", "figures"),
    [
        ("restock", 5, "receive", (15, 0)),
        ("return", 2, "return", (12, 0)),
        ("damage", -3, "damage", (7, 3)),
        ("correction", -1, "adjust", (9, 0)),
    ],
)
def test_adjust_applies_each_reason_through_its_service(
    api, product, location, reason, change, ledger_reason, figures
):
    factories.stock(product, location, 10)
    body = {"productId": product.sku, "warehouseId": location.code, "quantityChange": change,
            "reason": reason, "note": "shelf 4"}  # fmt: skip
    response = send(api, "post", "/inventory/adjust", body, **key())
    assert response.status_code == 200, response.content
    record = response.json()
    assert (record["quantity"], record["damaged"], record["quantityChange"]) == (*figures, change)
    entry = LedgerEntry.objects.get(pk=record["ledgerId"])
    assert (entry.reason, entry.on_hand_delta, entry.source) == (ledger_reason, change, "api")
    assert "shelf 4" in entry.note
    stocked = level(product, location)
    assert (stocked.on_hand, stocked.damaged) == figures


@pytest.mark.parametrize(
    ("reason", "change"), [("restock", -1), ("return", -2), ("damage", 2), ("correction", 0)]
)
def test_adjust_refuses_a_change_against_its_reason(api, product, location, reason, change):
    factories.stock(product, location, 10)
    before = snapshot()
    body = {"productId": product.sku, "warehouseId": location.code, "quantityChange": change,
            "reason": reason}  # fmt: skip
    response = send(api, "post", "/inventory/adjust", body, **key())
    assert list(assert_problem(response, 400, "invalid_request")["fields"]) == ["quantityChange"]
    assert snapshot() == before


def test_adjust_below_what_is_there_is_refused_with_the_figures(api, product, location):
    factories.stock(product, location, 2)
    before = snapshot()
    body = {"productId": product.sku, "warehouseId": location.code, "quantityChange": -5,
            "reason": "damage"}  # fmt: skip
    problem = assert_problem(send(api, "post", "/inventory/adjust", body, **key()), 409,
                             "insufficient_stock")  # fmt: skip
    assert (problem["lines"][0]["requested"], problem["lines"][0]["available"]) == (5, 2)
    assert snapshot() == before


# --- Transfer ---------------------------------------------------------------------------------
def test_a_transfer_moves_stock_and_is_received_by_default(api, product, location, other_location):
    factories.stock(product, location, 10)
    body = {"productId": product.sku, "fromWarehouseId": location.code,
            "toWarehouseId": other_location.code, "quantity": 4}  # fmt: skip
    response = send(api, "post", "/warehouses/transfer", body, **key())
    assert response.status_code == 201, response.content
    moved = response.json()
    assert (moved["success"], moved["status"], moved["quantity"]) == (True, "received", 4)
    assert (moved["fromInventory"]["quantity"], moved["toInventory"]["quantity"]) == (6, 4)
    transfer = Transfer.objects.get(pk=moved["transferId"])
    assert transfer.status == "received"
    assert ledger(product, location)[-1] == ("transfer_out", -4)
    assert ledger(product, other_location) == [("transfer_in_transit", 0), ("transfer_in", 4)]
    read = api.get(f"{API}/transfers/{moved['transferId']}")
    assert read.json()["lines"] == [{"sku": product.sku, "quantity": 4}]


def test_a_transfer_can_stay_in_transit(api, product, location, other_location):
    factories.stock(product, location, 10)
    body = {"productId": product.sku, "fromWarehouseId": location.code,
            "toWarehouseId": other_location.code, "quantity": 4, "receive": False}  # fmt: skip
    moved = send(api, "post", "/warehouses/transfer", body, **key()).json()
    assert (moved["status"], moved["receivedAt"], moved["toInventory"]["inTransit"]) == (
        "in_transit", None, 4,
    )  # fmt: skip
    received = api.post(f"{API}/transfers/{moved['transferId']}/receive", headers=key())
    assert received.json()["status"] == "received"
    assert level(product, other_location).on_hand == 4


def test_a_short_transfer_is_refused_and_moves_nothing(api, product, location, other_location):
    factories.stock(product, location, 3)
    before = snapshot()
    body = {"productId": product.sku, "fromWarehouseId": location.code,
            "toWarehouseId": other_location.code, "quantity": 4}  # fmt: skip
    problem = assert_problem(send(api, "post", "/warehouses/transfer", body, **key()), 409,
                             "insufficient_stock")  # fmt: skip
    assert problem["lines"][0] == {"sku": product.sku, "location": location.code,
                                   "requested": 4, "available": 3, "movable": 3}  # fmt: skip
    assert snapshot() == before
    assert not Transfer.objects.exists()


def test_a_transfer_to_the_same_warehouse_is_refused(api, product, location):
    body = {"productId": product.sku, "fromWarehouseId": location.code,
            "toWarehouseId": location.code, "quantity": 1}  # fmt: skip
    response = send(api, "post", "/warehouses/transfer", body, **key())
    assert list(assert_problem(response, 400, "invalid_request")["fields"]) == ["toWarehouseId"]


# --- Bulk update ------------------------------------------------------------------------------
def test_bulk_update_sets_quantities(api, merchant, product, location, other_location):
    factories.stock(product, location, 10)
    body = {"updates": [
        {"productId": product.sku, "warehouseId": location.code, "quantity": 7},
        {"productId": product.sku, "warehouseId": other_location.code, "quantity": 3},
    ]}  # fmt: skip
    response = send(api, "post", "/inventory/bulk-update", body, **key())
    assert response.status_code == 200, response.content
    result = response.json()
    assert (result["success"], result["applied"], result["rejected"]) == (True, 2, 0)
    assert [(r["warehouseId"], r["quantity"], r["status"]) for r in result["results"]] == [
        (location.code, 7, "applied"), (other_location.code, 3, "applied"),
    ]  # fmt: skip
    assert (level(product, location).on_hand, level(product, other_location).on_hand) == (7, 3)
    assert ledger(product, location)[-1] == ("count", -3)


def test_bulk_update_per_update_outcomes(api, merchant, product, location):
    factories.stock(product, location, 10)
    body = {"atomic": False, "updates": [
        {"productId": "NOPE", "warehouseId": location.code, "quantity": 1},
        {"productId": product.sku, "warehouseId": location.code, "quantity": 8},
    ]}  # fmt: skip
    result = send(api, "post", "/inventory/bulk-update", body, **key()).json()
    assert (result["success"], result["applied"], result["rejected"]) == (False, 1, 1)
    rejected = result["results"][0]
    assert (rejected["status"], rejected["detail"]) == ("rejected", "Unknown product NOPE.")
    assert level(product, location).on_hand == 8


def test_bulk_update_all_or_none_names_the_unknown_update(api, product, location):
    factories.stock(product, location, 10)
    before = snapshot()
    body = {"updates": [
        {"productId": product.sku, "warehouseId": location.code, "quantity": 8},
        {"productId": product.sku, "warehouseId": "nowhere", "quantity": 1, "qty": 2},
    ]}  # fmt: skip
    fields = assert_problem(send(api, "post", "/inventory/bulk-update", body, **key()), 400,
                            "invalid_request")["fields"]  # fmt: skip
    assert list(fields) == ["updates.1.qty"]
    del body["updates"][1]["qty"]
    fields = assert_problem(send(api, "post", "/inventory/bulk-update", body, **key()), 400,
                            "invalid_request")["fields"]  # fmt: skip
    assert fields == {"updates.1.warehouseId": ["Unknown warehouse nowhere."]}
    assert snapshot() == before
