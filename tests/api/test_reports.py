"""Reports over the API, for the key's merchant: the admin's report selectors as JSON and as
CSV, with their parameters."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.inventory import services
from apps.merchants.models import Membership
from tests import factories
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db
API = "/api/v1/reports"


@pytest.fixture
def shop(merchant, location, other_location, other_merchant):
    """Tee (10.00) and cap (2.50): tee 10 at location (safety 2), cap 4 at location (low, threshold
    5), tee 2 at other_location (out: safety 2); two tees sold; a reservation of one cap expiring
    in 10 minutes; one tee in transit to other_location. Another merchant's stock beside it, at
    a location with the same code."""
    tee = factories.product(merchant, price=Decimal("10.00"))
    cap = factories.product(merchant, price=Decimal("2.50"))
    factories.stock(tee, location, 13, safety_stock=2, low_stock_threshold=3)
    factories.stock(cap, location, 4, low_stock_threshold=5)
    factories.stock(tee, other_location, 2, safety_stock=2)
    services.stock_ship(
        merchant=merchant, lines=[services.StockLine(tee, location, 2)], actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    reservation = services.reservation_create(
        merchant=merchant, lines=[services.ReservationLineRequest(cap, 1, location)],
        actor=None, idempotency_key=factories.key(), ttl_seconds=600,
    )  # fmt: skip
    transfer, _ = services.transfer_move(
        merchant=merchant, source_location=location, destination_location=other_location,
        lines=[services.TransferLineRequest(tee, 1)], actor=None, receive=False,
        idempotency_key=factories.key(), reference="TR-5",
    )  # fmt: skip
    theirs = factories.product(other_merchant, price=Decimal("99.00"))
    factories.stock(theirs, factories.location(other_merchant, code=location.code), 50)
    return {"tee": tee, "cap": cap, "reservation": reservation, "transfer": transfer}


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["rows"]


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_stock_by_location_in_json_and_csv(api, shop, location, other_location):
    response = api.get(f"{API}/stock-by-location")
    body = response.json()
    assert body["report"] == "stock-by-location"
    by_code = {row["location"]: row for row in rows(response)}
    assert set(by_code) == {location.code, other_location.code}
    here, there = by_code[location.code], by_code[other_location.code]
    # tee 10 on hand (13 - 2 sold - 1 shipped), cap 4 (1 reserved): 10 x 10.00 + 4 x 2.50
    assert (here["skus"], here["on_hand"], here["reserved"], here["available"]) == (2, 14, 1, 11)
    assert (here["low"], here["out"], here["value"]) == (1, 0, "110.00")
    assert (there["on_hand"], there["in_transit"], there["out"], there["value"]) == (
        2, 1, 1, "20.00",
    )  # fmt: skip
    assert body["totals"] == {"skus": 3, "on_hand": 16, "reserved": 1, "available": 11,
                              "damaged": 0, "in_transit": 1, "value": "130.00"}  # fmt: skip

    exported = csv_rows(api.get(f"{API}/stock-by-location?format=csv"))
    assert list(exported[0]) == [
        "location", "location_name", "skus", "on_hand", "reserved", "available", "damaged",
        "in_transit", "value", "low", "out",
    ]  # fmt: skip
    assert {row["location"]: row["value"] for row in exported} == {
        location.code: "110.00", other_location.code: "20.00",
    }  # fmt: skip
    accepted = csv_rows(api.get(f"{API}/stock-by-location", headers={"Accept": "text/csv"}))
    assert accepted == exported


def test_low_and_out_of_stock(api, shop, location, other_location):
    low = rows(api.get(f"{API}/low-stock"))
    assert [(r["sku"], r["location"], r["available"], r["low_stock_threshold"]) for r in low] == [
        (shop["cap"].sku, location.code, 3, 5)
    ]
    out = rows(api.get(f"{API}/out-of-stock"))
    assert [(r["sku"], r["location"]) for r in out] == [(shop["tee"].sku, other_location.code)]
    assert rows(api.get(f"{API}/out-of-stock?location={location.code}")) == []
    assert csv_rows(api.get(f"{API}/low-stock?format=csv"))[0]["sku"] == shop["cap"].sku


def test_movements_and_top_movers(api, shop):
    days = rows(api.get(f"{API}/movements?days=7"))
    assert len(days) == 7
    today = days[-1]
    assert today["day"] == timezone.now().date().isoformat()
    # receipts 13 + 4 + 2 in, 2 sold and 1 shipped on transfer out
    assert (today["units_in"], today["units_out"]) == (19, 3)
    movers = rows(api.get(f"{API}/top-movers"))
    assert [(r["sku"], r["units_sold"]) for r in movers] == [(shop["tee"].sku, 2)]
    problem = assert_problem(api.get(f"{API}/movements?days=0"), 400, "invalid_request")
    assert "days" in problem["fields"]


def test_reservations_expiring_and_transfers_in_transit(api, shop, other_location):
    expiring = rows(api.get(f"{API}/reservations-expiring"))
    assert [(r["reservation_id"], r["units"]) for r in expiring] == [
        (str(shop["reservation"].pk), 1)
    ]
    assert rows(api.get(f"{API}/reservations-expiring?within_minutes=5")) == []
    moving = rows(api.get(f"{API}/transfers-in-transit"))
    assert [(r["transfer_id"], r["reference"], r["destination"], r["units"]) for r in moving] == [
        (str(shop["transfer"].pk), "TR-5", other_location.code, 1)
    ]


def test_stock_as_of_a_day(api, shop, location):
    today = timezone.now().date()
    body = api.get(f"{API}/stock-as-of?date={today.isoformat()}").json()
    assert (body["date"], body["source"]) == (today.isoformat(), "ledger")
    assert {row["location"]: row["on_hand"] for row in body["rows"]}[location.code] == 14
    assert body["totals"]["on_hand"] == 16
    assert api.get(f"{API}/stock-as-of?date={today - timedelta(days=1)}").json()["rows"] == []
    export = api.get(f"{API}/stock-as-of?date={today}&format=csv")
    assert f"stock-as-of-{today}" in export["Content-Disposition"]
    future = api.get(f"{API}/stock-as-of?date={today + timedelta(days=1)}")
    assert "date" in assert_problem(future, 400, "invalid_request")["fields"]
    assert "date" in assert_problem(api.get(f"{API}/stock-as-of"), 400, "invalid_request")["fields"]


def test_an_unknown_location_or_format_is_refused(api, shop):
    assert_problem(api.get(f"{API}/low-stock?location=nowhere"), 404, "not_found")
    assert_problem(api.get(f"{API}/low-stock?format=xml"), 404, "not_found")
    error = api.get(f"{API}/movements?days=0&format=csv")
    assert error["Content-Type"] == "application/problem+json"


def test_reports_hold_only_the_keys_merchant(other_api, shop, location):
    """The other merchant has one level at a location coded like `location`."""
    by_location = rows(other_api.get(f"{API}/stock-by-location"))
    assert [(row["on_hand"], row["value"]) for row in by_location] == [(50, "4950.00")]
    for name in ("low-stock", "out-of-stock", "reservations-expiring", "transfers-in-transit"):
        assert rows(other_api.get(f"{API}/{name}")) == []
    assert rows(other_api.get(f"{API}/top-movers")) == []


def test_a_limited_manager_reads_the_whole_merchant(merchant, shop, location, other_location):
    manager = factories.user(merchant, role=Membership.Role.MANAGER)
    Membership.objects.get(user=manager, merchant=merchant).locations.set([location])
    client = APIClient()
    client.force_login(manager)
    codes = {row["location"] for row in rows(client.get(f"{API}/stock-by-location"))}
    assert codes == {location.code, other_location.code}
