"""Substitution groups over the API, reservation lines with `substitutes: true`, and
availability's `can_serve_with_substitutes`, as an integrator calls them."""

import pytest
from django.urls import reverse

from apps.catalog.models import SubstitutionGroup, SubstitutionMember
from tests import factories
from tests.admin_helpers import Role, logged_in, staff
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def packs(merchant):
    return factories.product(merchant, sku="TEA-6"), factories.product(merchant, sku="TEA-12")


def group_body(**extra):
    return {"code": "tea", "name": "Tea packs",
            "members": [{"sku": "TEA-6", "units": 6}, {"sku": "TEA-12", "units": 12}], **extra}  # fmt: skip


def test_substitution_groups_lifecycle(api, other_api, packs):
    created = api.post("/api/v1/substitution-groups", group_body(), format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["members"] == [  # by priority, then SKU
        {"sku": "TEA-12", "units": 12, "priority": 100},
        {"sku": "TEA-6", "units": 6, "priority": 100},
    ]
    assert [g["code"] for g in api.get("/api/v1/substitution-groups/").json()["results"]] == ["tea"]
    assert_problem(other_api.get("/api/v1/substitution-groups/tea/"), 404, "not_found")
    renamed = api.patch("/api/v1/substitution-groups/tea/", {"name": "Tea"}, format="json")
    assert renamed.json()["name"] == "Tea"
    assert_problem(
        api.patch("/api/v1/substitution-groups/tea/", {"code": "x"}, format="json"), 400,
        "invalid_request",
    )  # fmt: skip
    assert api.delete("/api/v1/substitution-groups/tea/").status_code == 204
    assert not SubstitutionGroup.objects.exists()


def test_bad_substitution_groups_are_400_naming_the_field(api, other_api, merchant, packs):
    assert api.post("/api/v1/substitution-groups/", group_body(), format="json").status_code == 201
    factories.product(merchant, sku="TEA-1")
    factories.product(merchant, sku="TEA-2")
    cases = [
        (group_body(code="again"), "members"),  # TEA-6 is in `tea` already
        (group_body(code="tea", members=[{"sku": "TEA-1", "units": 1}, {"sku": "TEA-2", "units": 2}]), "code"),
        (group_body(code="twice", members=[{"sku": "TEA-1", "units": 1}, {"sku": "TEA-1", "units": 1}]), "members"),
        (group_body(code="one", members=[{"sku": "TEA-1", "units": 1}]), "members"),
        (group_body(code="zero", members=[{"sku": "TEA-1", "units": 0}, {"sku": "TEA-6", "units": 6}]), "members.0.units"),
        (group_body(code="nope", members=[{"sku": "NOPE", "units": 1}, {"sku": "TEA-1", "units": 1}]), "members.0.sku"),
    ]  # fmt: skip
    for body, field in cases:
        problem = assert_problem(
            api.post("/api/v1/substitution-groups/", body, format="json"), 400, "invalid_request"
        )
        assert field in problem["fields"], (body, problem)
    # Another merchant's SKUs do not exist for it.
    theirs = other_api.post("/api/v1/substitution-groups/", group_body(), format="json")
    assert "members.0.sku" in assert_problem(theirs, 400, "invalid_request")["fields"]
    assert SubstitutionGroup.objects.count() == 1


def test_a_reservation_line_with_substitutes_says_what_it_took(api, packs, location):
    _, twelve = packs
    assert api.post("/api/v1/substitution-groups/", group_body(), format="json").status_code == 201
    factories.stock(twelve, location, 3)
    availability = api.get("/api/v1/availability/TEA-6/", {"quantity": 4}).json()
    assert (availability["can_serve"], availability["can_serve_with_substitutes"]) == (False, True)
    assert availability["substitutes"] == [
        {"sku": "TEA-12", "units": 12, "available": 3, "stands_for": 6}
    ]
    assert (availability["stale"], availability["age_seconds"]) == (False, None)
    held = api.post_stock(
        "/api/v1/reservations",
        {
            "lines": [
                {"sku": "TEA-6", "location": location.code, "quantity": 4, "substitutes": True}
            ]
        },
    )
    assert held.status_code == 201, held.json()
    assert held.json()["lines"] == [
        {"sku": "TEA-12", "location": location.code, "quantity": 2,
         "substitute_for": {"sku": "TEA-6", "quantity": 4}},
    ]  # fmt: skip
    read = api.get(f"/api/v1/reservations/{held.json()['id']}/").json()
    assert read["lines"] == held.json()["lines"]
    refused = api.post_stock(
        "/api/v1/reservations/",
        {
            "lines": [
                {"sku": "TEA-6", "location": location.code, "quantity": 4, "substitutes": True}
            ]
        },
    )
    problem = assert_problem(refused, 409, "insufficient_stock")
    assert problem["lines"] == [
        {"sku": "TEA-6", "location": location.code, "requested": 4, "available": 0,
         "with_substitutes": 2},
    ]  # fmt: skip


def test_owners_manage_groups_in_the_admin(client, merchant, other_merchant, packs):
    six, twelve = packs
    theirs = factories.product(other_merchant, sku="THEIRS")
    logged_in(client, staff(merchant, Role.OWNER))
    add = reverse("admin:catalog_substitutiongroup_add")
    form = {
        "merchant": merchant.pk, "code": "tea", "name": "Tea",
        "members-TOTAL_FORMS": "2", "members-INITIAL_FORMS": "0",
        "members-0-product": six.pk, "members-0-units": "6", "members-0-priority": "1",
        "members-1-product": theirs.pk, "members-1-units": "12", "members-1-priority": "2",
    }  # fmt: skip
    refused = client.post(add, form)
    assert refused.status_code == 200  # another merchant's product is no choice
    assert not SubstitutionGroup.objects.exists()
    assert client.post(add, {**form, "members-1-product": twelve.pk}).status_code == 302
    assert sorted(SubstitutionMember.objects.values_list("product__sku", "units")) == [
        ("TEA-12", 12), ("TEA-6", 6),
    ]  # fmt: skip
    logged_in(client, staff(merchant, Role.VIEWER))
    assert client.post(add, {**form, "code": "other"}).status_code == 403
