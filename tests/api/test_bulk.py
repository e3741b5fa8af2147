"""bulk/stock/: up to 10,000 count or adjustment lines, all or none or per line."""

import pytest

from apps.inventory.models import LedgerEntry, StockLevel
from tests import factories
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db


def test_ten_thousand_counts_in_one_call(api, merchant, location):
    from apps.catalog.models import Product

    Product.objects.bulk_create(
        [Product(merchant=merchant, sku=f"BULK-{i:05d}", name=f"Bulk {i}") for i in range(10_000)]
    )
    lines = [{"sku": f"BULK-{i:05d}", "location": location.code, "quantity": i % 50}
             for i in range(10_000)]  # fmt: skip
    response = api.post_stock("/api/v1/bulk/stock/", {"mode": "count", "atomic": True,
                                                      "reference": "FULL-COUNT", "lines": lines})  # fmt: skip
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert (body["applied"], body["rejected"], len(body["ledger_ids"])) == (10_000, 0, 10_000)
    assert StockLevel.objects.filter(merchant=merchant).count() == 10_000
    assert StockLevel.objects.get(product__sku="BULK-00049").on_hand == 49
    assert LedgerEntry.objects.filter(merchant=merchant, reference="FULL-COUNT").count() == 10_000


def test_atomic_batch_is_refused_whole(api, merchant, product, location, other_location):
    factories.stock(product, location, 5)
    api.post_stock("/api/v1/reservations/", {"lines": [
        {"sku": product.sku, "location": location.code, "quantity": 4}]})  # fmt: skip
    before = LedgerEntry.objects.filter(merchant=merchant).count()
    response = api.post_stock("/api/v1/bulk/stock/", {"mode": "count", "atomic": True, "lines": [
        {"sku": product.sku, "location": other_location.code, "quantity": 7},
        {"sku": product.sku, "location": location.code, "quantity": 2},
    ]})  # fmt: skip
    assert_problem(response, 409, "count_below_reserved")
    assert LedgerEntry.objects.filter(merchant=merchant).count() == before


def test_per_line_results_apply_what_can_be_applied(api, merchant, product, location,
                                                    other_location):  # fmt: skip
    second = factories.product(merchant)
    factories.stock(product, location, 5)
    factories.stock(second, location, 1)
    api.post_stock("/api/v1/reservations/", {"lines": [
        {"sku": product.sku, "location": location.code, "quantity": 4}]})  # fmt: skip
    response = api.post_stock("/api/v1/bulk/stock/", {"mode": "adjust", "atomic": False,
                                                      "reason": "Audit", "lines": [
        {"sku": product.sku, "location": location.code, "delta": -3},
        {"sku": second.sku, "location": location.code, "delta": -1},
        {"sku": second.sku, "location": other_location.code, "delta": 6},
        {"sku": product.sku, "location": other_location.code, "delta": -1},
    ]})  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert [(line["status"], line["code"]) for line in body["lines"]] == [
        ("rejected", "insufficient_stock"), ("applied", ""), ("applied", ""),
        ("rejected", "insufficient_stock"),
    ]  # fmt: skip
    assert (body["applied"], body["rejected"]) == (2, 2)
    assert StockLevel.objects.get(product=product, location=location).on_hand == 5
    assert StockLevel.objects.get(product=second, location=location).on_hand == 0
    assert StockLevel.objects.get(product=second, location=other_location).on_hand == 6
    assert body["lines"][2]["on_hand"] == 6


def test_per_line_counts_reject_duplicates_and_stale_versions(api, product, location,
                                                              other_location):  # fmt: skip
    level = factories.stock(product, location, 5)
    response = api.post_stock("/api/v1/bulk/stock/", {"mode": "count", "atomic": False, "lines": [
        {"sku": product.sku, "location": location.code, "quantity": 9,
         "expected_version": level.version + 1},
        {"sku": product.sku, "location": other_location.code, "quantity": 3},
        {"sku": product.sku, "location": other_location.code, "quantity": 4},
    ]})  # fmt: skip
    lines = response.json()["lines"]
    assert [(ln["status"], ln["code"]) for ln in lines] == [
        ("rejected", "version_conflict"), ("applied", ""), ("rejected", "duplicate_line")]  # fmt: skip
    assert StockLevel.objects.get(product=product, location=location).on_hand == 5
    assert StockLevel.objects.get(product=product, location=other_location).on_hand == 3


def test_bulk_replay_and_validation(api, merchant, product, location):
    body = {"mode": "adjust", "atomic": False, "reason": "Found",
            "lines": [{"sku": product.sku, "location": location.code, "delta": 4}]}  # fmt: skip
    first = api.post_stock("/api/v1/bulk/stock/", body, key="bulk-1")
    replay = api.post_stock("/api/v1/bulk/stock/", body, key="bulk-1")
    assert first.json() == replay.json()
    assert StockLevel.objects.get(product=product, location=location).on_hand == 4
    for bad, field in [
        ({**body, "reason": ""}, "reason"),
        ({**body, "mode": "teleport"}, "mode"),
        ({**body, "lines": [{"sku": product.sku, "location": location.code, "delta": 0}]},
         "lines.0.delta"),
        ({**body, "lines": [{"sku": product.sku, "location": location.code, "delta": "x"}]},
         "lines.0.delta"),
        ({**body, "atomic": True,
          "lines": [{"sku": "NOPE", "location": location.code, "delta": 1}]}, "lines.0.sku"),
        ({**body, "lines": ["not an object"]}, "lines.0"),
        ({**body, "lines": []}, "lines"),
    ]:  # fmt: skip
        problem = assert_problem(api.post_stock("/api/v1/bulk/stock/", bad), 400,
                                 "invalid_request")  # fmt: skip
        assert field in problem["fields"], (bad, problem)


def test_per_line_unknown_skus_and_locations_are_their_lines_outcome(api, merchant, product,
                                                                      location):  # fmt: skip
    factories.stock(product, location, 5)
    body = {"mode": "count", "atomic": False, "reference": "C-9", "lines": [
        {"sku": "NOPE", "location": location.code, "quantity": 1},
        {"sku": product.sku, "location": location.code, "quantity": 8},
        {"sku": product.sku, "location": "nowhere", "quantity": 2},
    ]}  # fmt: skip
    response = api.post_stock("/api/v1/bulk/stock/", body, key="bulk-unknown")
    assert response.status_code == 200, response.content
    result = response.json()
    assert [(ln["index"], ln["status"], ln["code"]) for ln in result["lines"]] == [
        (0, "rejected", "invalid_request"), (1, "applied", ""), (2, "rejected", "invalid_request"),
    ]  # fmt: skip
    assert result["lines"][0]["detail"] == "Unknown SKU NOPE."
    assert result["lines"][2]["detail"] == "Unknown location nowhere."
    assert (result["applied"], result["rejected"]) == (1, 2)
    assert StockLevel.objects.get(product=product, location=location).on_hand == 8
    replay = api.post_stock("/api/v1/bulk/stock/", body, key="bulk-unknown")
    assert replay.json() == result
    assert StockLevel.objects.get(product=product, location=location).version == 2
    # Nothing known at all: every line is rejected, nothing changes.
    only_unknown = api.post_stock("/api/v1/bulk/stock/", {**body, "lines": body["lines"][:1]})
    assert (only_unknown.status_code, only_unknown.json()["rejected"]) == (200, 1)
    # All or none: an unknown SKU refuses the batch.
    problem = assert_problem(
        api.post_stock("/api/v1/bulk/stock/", {**body, "atomic": True}), 400, "invalid_request"
    )
    assert set(problem["fields"]) == {"lines.0.sku", "lines.2.location"}
