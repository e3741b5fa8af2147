"""POST reservations/{id}/return and GET reservations/{id}/returns, as an integrator calls
them: problem+json refusals with the figures, replays, tenancy and location scopes."""

import pytest
from rest_framework.test import APIClient

from apps.inventory.models import LedgerEntry, StockLevel
from apps.merchants.models import Membership
from tests import factories
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db


def committed(api, product, location, quantity=4, order_ref="WEB-5") -> str:
    held = api.post_stock(
        "/api/v1/reservations/",
        {"lines": [{"sku": product.sku, "location": location.code, "quantity": quantity}],
         "order_ref": order_ref},
    )  # fmt: skip
    assert held.status_code == 201, held.json()
    assert api.post_stock(f"/api/v1/reservations/{held.json()['id']}/commit/").status_code == 200
    return held.json()["id"]


def test_a_return_as_the_specification_writes_it(api, product, location, stocked):
    reservation = committed(api, product, location)
    body = {"lines": [{"sku": product.sku, "quantity": 3}], "disposition": "restock",
            "reason": "Too small"}  # fmt: skip
    returned = api.post_stock(f"/api/v1/reservations/{reservation}/return", body, key="r-1")
    assert returned.status_code == 201, returned.json()
    data = returned.json()
    assert {k: data[k] for k in ("reservation_id", "order_ref", "disposition", "cancellation")} == {
        "reservation_id": reservation, "order_ref": "WEB-5", "disposition": "restock",
        "cancellation": False,
    }  # fmt: skip
    assert data["lines"] == [{"sku": product.sku, "location": location.code, "quantity": 3}]
    assert data["returnable"] == [
        {"sku": product.sku, "committed": 4, "returned": 3, "returnable": 1}
    ]
    assert StockLevel.objects.get(product=product, location=location).on_hand == 9

    replay = api.post_stock(f"/api/v1/reservations/{reservation}/return", body, key="r-1")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == data
    assert StockLevel.objects.get(product=product, location=location).on_hand == 9

    too_many = api.post_stock(
        f"/api/v1/reservations/{reservation}/return/",
        {"lines": [{"sku": product.sku, "quantity": 2}], "disposition": "damaged"},
    )
    problem = assert_problem(too_many, 409, "return_exceeds_committed")
    assert problem["lines"] == [
        {"sku": product.sku, "requested": 2, "committed": 4, "returned": 3, "returnable": 1}
    ]
    listed = api.get(f"/api/v1/reservations/{reservation}/returns/").json()["results"]
    assert [r["id"] for r in listed] == [data["id"]]
    assert (
        LedgerEntry.objects.filter(reference=f"reservation:{reservation}", reason="return").count()
        == 1
    )
    # The ledger's reference filter finds the return by the reservation's id.
    ledger = api.get("/api/v1/ledger/", {"reference": reservation, "reason": "return"}).json()
    assert [row["note"] for row in ledger["results"]] == [
        "Order WEB-5 returned (restock): Too small"
    ]


def test_a_cancellation_after_commit_leaves_the_lines_out(api, product, location, stocked):
    reservation = committed(api, product, location, quantity=4)
    cancelled = api.post_stock(
        f"/api/v1/reservations/{reservation}/return/", {"disposition": "restock"}
    )
    assert cancelled.status_code == 201, cancelled.json()
    assert cancelled.json()["cancellation"] is True
    assert cancelled.json()["returnable"][0]["returnable"] == 0
    assert StockLevel.objects.get(product=product, location=location).on_hand == 10


def test_bad_returns_are_4xx_and_change_nothing(api, other_api, product, location, stocked):
    reservation = committed(api, product, location)
    path = f"/api/v1/reservations/{reservation}/return/"
    cases = [
        ({"lines": [{"sku": product.sku, "quantity": 1}]}, 400, "disposition"),
        ({"lines": [{"sku": "NOPE", "quantity": 1}], "disposition": "restock"}, 400, "lines.0.sku"),
        ({"lines": [{"sku": product.sku, "quantity": 0}], "disposition": "restock"}, 400,
         "lines.0.quantity"),
        ({"lines": [], "disposition": "restock"}, 400, "lines"),
        ({"disposition": "restock", "lines": [{"sku": product.sku, "quantity": 1,
                                                "location": "nowhere"}]}, 400, "lines.0.location"),
        ({"disposition": "restock", "extra": 1}, 400, "extra"),
    ]  # fmt: skip
    for body, status, field in cases:
        problem = assert_problem(api.post_stock(path, body), status, "invalid_request")
        assert field in problem["fields"], (body, problem)
    assert_problem(
        api.post(path, {"disposition": "restock"}, format="json"), 400, "invalid_request"
    )
    assert_problem(other_api.post_stock(path, {"disposition": "restock"}), 404, "not_found")
    active = api.post_stock(
        "/api/v1/reservations/",
        {"lines": [{"sku": product.sku, "location": location.code, "quantity": 1}]},
    ).json()["id"]
    refused = api.post_stock(f"/api/v1/reservations/{active}/return/", {"disposition": "restock"})
    assert assert_problem(refused, 409, "invalid_state")["state"] == "active"
    assert StockLevel.objects.get(product=product, location=location).on_hand == 6
    assert not LedgerEntry.objects.filter(reason="return").exists()


def test_a_manager_returns_only_to_their_locations(
    api, merchant, product, location, other_location, stocked
):
    reservation = committed(api, product, location)
    manager = factories.user(merchant, role=Membership.Role.MANAGER)
    manager.memberships.get().locations.set([other_location])
    client = APIClient()
    client.force_login(manager)

    def post(body):
        return client.post(
            f"/api/v1/reservations/{reservation}/return/", body, format="json",
            headers={"Idempotency-Key": factories.key()},
        )  # fmt: skip

    # Sold at `location`: a cancellation (back there) is not the manager's to record...
    assert_problem(post({"disposition": "restock"}), 403, "permission_denied")
    # ...a return to the manager's own store is.
    back_here = post({"disposition": "restock",
                      "lines": [{"sku": product.sku, "location": other_location.code, "quantity": 1}]})  # fmt: skip
    assert back_here.status_code == 201, back_here.json()
    assert StockLevel.objects.get(product=product, location=other_location).on_hand == 1
