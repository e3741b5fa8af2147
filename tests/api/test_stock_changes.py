"""POST stock/receipts|shipments|adjustments|counts|damages|write-offs: one change or a batch,
new levels and ledger ids back, conditional requests, precise refusals that change nothing."""

import pytest

from apps.inventory.models import LedgerEntry, StockLevel
from tests import factories
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db


def level(product, location) -> StockLevel:
    return StockLevel.objects.get(product=product, location=location)


def ledger_count(merchant) -> int:
    return LedgerEntry.objects.filter(merchant=merchant).count()


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("receipts", {"quantity": 5}, {"on_hand": 15, "damaged": 0}),
        ("shipments", {"quantity": 4}, {"on_hand": 6, "damaged": 0}),
        ("adjustments", {"delta": -3, "reason": "Shrinkage"}, {"on_hand": 7, "damaged": 0}),
        ("counts", {"quantity": 8}, {"on_hand": 8, "damaged": 0}),
        ("damages", {"quantity": 2}, {"on_hand": 8, "damaged": 2}),
    ],
)
def test_one_change_returns_the_new_level_and_ledger_id(
    api, product, location, stocked, path, body, expected
):
    payload = {"sku": product.sku, "location": location.code, "reference": "DOC-9", **body}
    response = api.post_stock(f"/api/v1/stock/{path}/", payload)
    assert response.status_code == 201, response.content
    data = response.json()
    after = level(product, location)
    assert (after.on_hand, after.damaged) == (expected["on_hand"], expected["damaged"])
    [entry] = LedgerEntry.objects.filter(pk__in=data["ledger_ids"])
    assert entry.reference == "DOC-9"
    assert entry.source == "api"
    [line] = data["levels"]
    assert line == {
        "sku": product.sku, "location": location.code, "ledger_id": entry.pk,
        "reason": entry.reason, "on_hand": after.on_hand, "reserved": 0,
        "available": after.available, "safety_stock": 0, "damaged": after.damaged,
        "in_transit": 0, "version": after.version,
    }  # fmt: skip


def test_write_off_takes_damaged_units_away(api, product, location, stocked):
    api.post_stock("/api/v1/stock/damages/", {"sku": product.sku, "location": location.code,
                                              "quantity": 3})  # fmt: skip
    response = api.post_stock("/api/v1/stock/write-offs/",
                              {"sku": product.sku, "location": location.code, "quantity": 2})  # fmt: skip
    assert response.status_code == 201
    assert (level(product, location).on_hand, level(product, location).damaged) == (7, 1)


def test_a_batch_applies_every_line(api, merchant, product, location, other_location):
    second = factories.product(merchant)
    body = {"reference": "PO-1", "lines": [
        {"sku": product.sku, "location": location.code, "quantity": 3},
        {"sku": second.sku, "location": other_location.code, "quantity": 4},
        {"sku": product.sku, "location": location.code, "quantity": 2},
    ]}  # fmt: skip
    response = api.post_stock("/api/v1/stock/receipts/", body)
    assert response.status_code == 201
    assert len(response.json()["ledger_ids"]) == 2  # duplicate lines are merged
    assert level(product, location).on_hand == 5
    assert level(second, other_location).on_hand == 4


def test_insufficient_stock_is_409_with_each_short_line_and_changes_nothing(
    api, merchant, product, location, other_location, stocked
):
    second = factories.product(merchant)
    factories.stock(second, other_location, 1)
    before = ledger_count(merchant)
    response = api.post_stock("/api/v1/stock/shipments/", {"lines": [
        {"sku": product.sku, "location": location.code, "quantity": 11},
        {"sku": second.sku, "location": other_location.code, "quantity": 3},
    ]})  # fmt: skip
    problem = assert_problem(response, 409, "insufficient_stock")
    assert sorted(problem["lines"], key=lambda line: line["sku"]) == sorted([
        {"sku": product.sku, "location": location.code, "requested": 11, "available": 10,
         "movable": 10},
        {"sku": second.sku, "location": other_location.code, "requested": 3, "available": 1,
         "movable": 1},
    ], key=lambda line: line["sku"])  # fmt: skip
    assert level(product, location).on_hand == 10
    assert ledger_count(merchant) == before


def test_stale_if_match_is_412_with_the_current_level(api, merchant, product, location, stocked):
    url = f"/api/v1/stock/{product.sku}/{location.code}/"
    etag = api.get(url)["ETag"]
    assert etag == f'"{stocked.version}"'
    body = {"sku": product.sku, "location": location.code, "quantity": 1}
    ok = api.post_stock("/api/v1/stock/shipments/", body, headers={"If-Match": etag})
    assert ok.status_code == 201
    before = ledger_count(merchant)
    stale = api.post_stock("/api/v1/stock/shipments/", body, headers={"If-Match": etag})
    problem = assert_problem(stale, 412, "version_conflict")
    assert problem["current"]["on_hand"] == 9
    assert problem["current"]["version"] == stocked.version + 1
    assert ledger_count(merchant) == before
    assert level(product, location).on_hand == 9


def test_stale_expected_version_in_the_body_is_412(api, product, location, stocked):
    body = {"sku": product.sku, "location": location.code, "quantity": 4,
            "expected_version": stocked.version + 5}  # fmt: skip
    assert_problem(api.post_stock("/api/v1/stock/counts/", body), 412, "version_conflict")
    body["expected_version"] = stocked.version
    assert api.post_stock("/api/v1/stock/counts/", body).status_code == 201
    assert level(product, location).on_hand == 4


def test_if_match_is_refused_for_several_lines_and_when_malformed(api, product, location):
    line = {"sku": product.sku, "location": location.code, "quantity": 1}
    body = assert_problem(
        api.post_stock("/api/v1/stock/receipts/", {"lines": [line, line]},
                       headers={"If-Match": '"1"'}), 400, "invalid_request",
    )  # fmt: skip
    assert "If-Match" in body["fields"]
    assert_problem(api.post_stock("/api/v1/stock/receipts/", line, headers={"If-Match": "abc"}),
                   400, "invalid_request")  # fmt: skip


def test_missing_idempotency_key_is_400_naming_the_header(api, product, location):
    body = {"sku": product.sku, "location": location.code, "quantity": 1}
    problem = assert_problem(
        api.post("/api/v1/stock/receipts/", body, format="json"), 400, "invalid_request"
    )
    assert "Idempotency-Key" in problem["fields"]
    assert not StockLevel.objects.filter(product=product).exists()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("receipts", {"sku": "NOPE", "location": "{loc}", "quantity": 1}, "sku"),
        ("receipts", {"sku": "{sku}", "location": "nowhere", "quantity": 1}, "location"),
        ("receipts", {"sku": "{sku}", "location": "{loc}", "quantity": 0}, "quantity"),
        ("receipts", {"sku": "{sku}", "location": "{loc}", "quantity": "many"}, "quantity"),
        ("receipts", {"sku": "{sku}", "location": "{loc}"}, "quantity"),
        ("receipts", {"sku": "{sku}", "location": "{loc}", "quantity": 10**12}, "quantity"),
        ("adjustments", {"sku": "{sku}", "location": "{loc}", "delta": 2}, "reason"),
        ("adjustments", {"sku": "{sku}", "location": "{loc}", "delta": 0, "reason": "x"}, "delta"),
        ("counts", {"sku": "{sku}", "location": "{loc}", "quantity": -1}, "quantity"),
        ("receipts", {"lines": []}, "lines"),
        ("receipts", {"lines": [{"sku": "{sku}", "location": "{loc}", "quantity": 1},
                                {"sku": "NOPE", "location": "{loc}", "quantity": 1}]},
         "lines.1.sku"),
    ],
)  # fmt: skip
def test_invalid_input_is_400_naming_the_field(api, product, location, path, body, field):
    def fill(value):
        if isinstance(value, str):
            return value.format(sku=product.sku, loc=location.code)
        if isinstance(value, list):
            return [fill(item) for item in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    problem = assert_problem(
        api.post_stock(f"/api/v1/stock/{path}/", fill(body)), 400, "invalid_request"
    )
    assert field in problem["fields"], problem
    assert not LedgerEntry.objects.filter(product=product).exists()


def test_count_below_reserved_is_409(api, product, location, stocked):
    api.post_stock("/api/v1/reservations/", {"lines": [
        {"sku": product.sku, "location": location.code, "quantity": 6}]})  # fmt: skip
    problem = assert_problem(
        api.post_stock("/api/v1/stock/counts/",
                       {"sku": product.sku, "location": location.code, "quantity": 5}),
        409, "count_below_reserved",
    )  # fmt: skip
    assert (problem["counted"], problem["reserved"]) == (5, 6)


def test_receipt_above_max_level_is_409(api, product, location):
    factories.stock(product, location, 5, max_level=8)
    problem = assert_problem(
        api.post_stock("/api/v1/stock/receipts/",
                       {"sku": product.sku, "location": location.code, "quantity": 4}),
        409, "exceeds_max_level",
    )  # fmt: skip
    assert problem["room"] == 3


def test_malformed_json_and_wrong_content_type_are_problems(api):
    response = api.post("/api/v1/stock/receipts/", "{not json", content_type="application/json",
                        headers={"Idempotency-Key": "k"})  # fmt: skip
    assert_problem(response, 400, "malformed_request")
    response = api.post("/api/v1/stock/receipts/", "a=1", content_type="text/plain",
                        headers={"Idempotency-Key": "k"})  # fmt: skip
    assert_problem(response, 415, "unsupported_media_type")
    assert_problem(api.get("/api/v1/stock/receipts/"), 405, "method_not_allowed")
    assert_problem(api.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_options_is_not_offered(api):
    response = api.options("/api/v1/stock/receipts/")
    assert_problem(response, 405, "method_not_allowed")
    assert "OPTIONS" not in response["Allow"]


def test_refusals_quote_the_figures_the_stock_list_shows(api, merchant, product, location):
    """One vocabulary: `available` in a refusal is the stock list's available; a physical
    move, which may also take the safety stock, says so with `movable`."""
    factories.stock(product, location, 21, safety_stock=2)
    api.post_stock("/api/v1/reservations/", {"lines": [
        {"sku": product.sku, "location": location.code, "quantity": 2}]})  # fmt: skip
    listed = api.get(f"/api/v1/stock/?sku={product.sku}").json()["results"][0]
    assert (listed["on_hand"], listed["reserved"], listed["available"]) == (21, 2, 17)

    sale = api.post_stock("/api/v1/stock/shipments/", {"sku": product.sku,
                                                       "location": location.code, "quantity": 20})  # fmt: skip
    problem = assert_problem(sale, 409, "insufficient_stock")
    assert problem["lines"] == [{"sku": product.sku, "location": location.code, "requested": 20,
                                 "available": 17, "movable": 19}]  # fmt: skip
    assert (
        "requested 20, available 17 (19 on hand not reserved, 2 of them safety stock)"
        in (problem["detail"])
    )
    hold = api.post_stock("/api/v1/reservations/", {"lines": [
        {"sku": product.sku, "location": location.code, "quantity": 18}]})  # fmt: skip
    problem = assert_problem(hold, 409, "insufficient_stock")
    assert problem["lines"] == [{"sku": product.sku, "location": location.code, "requested": 18,
                                 "available": 17}]  # fmt: skip
    bulk = api.post_stock("/api/v1/bulk/stock/", {"mode": "adjust", "atomic": False,
                                                  "reason": "Audit", "lines": [
        {"sku": product.sku, "location": location.code, "delta": -20}]})  # fmt: skip
    [line] = bulk.json()["lines"]
    assert line["detail"] == (
        f"{product.sku} at {location.code}: requested 20, available 17 "
        "(19 on hand not reserved, 2 of them safety stock)."
    )
    assert level(product, location).on_hand == 21
