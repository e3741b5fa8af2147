"""A location's address details (city, country, time zone) and capacity: in the API (with
filters), the admin (filters, form, the stock panel) and the CSV export."""

import pytest
from django.urls import reverse

from apps.locations.models import Location
from tests import factories
from tests.admin_helpers import Role, logged_in, staff
from tests.api.conftest import client_for
from tests.api.test_auth import assert_problem

pytestmark = pytest.mark.django_db

DETAILS = {
    "address": "1 Dock Road",
    "city": "Leeds",
    "country": "GB",
    "timezone": "Europe/London",
    "capacity": 5000,
}


def test_location_details_round_trip_through_the_api(merchant):
    api = client_for(merchant)
    created = api.post(
        "/api/v1/locations/", {"code": "north-wh", "name": "North", **DETAILS}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert {name: created.json()[name] for name in DETAILS} == DETAILS
    location = Location.objects.get(merchant=merchant, code="north-wh")
    assert (location.city, location.country, location.timezone, location.capacity) == (
        "Leeds", "GB", "Europe/London", 5000,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value"),
    [("country", "gb"), ("country", "GBR"), ("timezone", "Mars/Olympus"), ("capacity", -1)],
)
def test_bad_location_details_are_400_naming_the_field(merchant, field, value):
    api = client_for(merchant)
    response = api.post(
        "/api/v1/locations/", {"code": "bad", "name": "Bad", field: value}, format="json"
    )
    assert field in assert_problem(response, 400, "invalid_request")["fields"]
    assert not Location.objects.filter(code="bad").exists()


def test_locations_filter_by_city_and_country(merchant):
    factories.location(merchant, code="a", city="Leeds", country="GB")
    factories.location(merchant, code="b", city="Paris", country="FR")
    factories.location(merchant, code="c", city="York", country="GB")
    api = client_for(merchant)

    def codes(**params):
        return [p["code"] for p in api.get("/api/v1/locations/", params).json()["results"]]

    assert codes(country="GB") == ["a", "c"]
    assert codes(city="Paris") == ["b"]


def test_admin_shows_capacity_filters_and_exports_location_details(
    client, merchant, product, other_merchant
):
    north = factories.location(merchant, code="north", city="Leeds", country="GB", capacity=200)
    factories.location(merchant, code="south", city="Paris", country="FR")
    factories.location(other_merchant, code="x", city="Secretville", country="US")
    factories.stock(product, north, 50)
    logged_in(client, staff(merchant, Role.OWNER))
    page = client.get(reverse("admin:locations_location_change", args=[north.pk]))
    assert (
        "50 on hand of a capacity of 200 (25%)" in dict(page.context["stockroom_panels"])["Stock"]
    )
    listing = client.get(reverse("admin:locations_location_changelist"), {"country": "GB"})
    assert [loc.code for loc in listing.context["cl"].result_list] == ["north"]
    assert (
        "Secretville"
        not in client.get(reverse("admin:locations_location_changelist")).content.decode()
    )
    response = client.get(reverse("admin:locations_location_export"), {"country": "FR"})
    lines = b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[0].split(",")[-4:] == ["city", "country", "timezone", "capacity"]
    assert lines[1].split(",")[-4:] == ["Paris", "FR", "", ""]
    assert len(lines) == 2


def test_admin_form_refuses_a_bad_time_zone(client, merchant):
    logged_in(client, staff(merchant, Role.OWNER))
    response = client.post(
        reverse("admin:locations_location_add"),
        {"merchant": merchant.pk, "code": "tz", "name": "TZ", "kind": "warehouse",
         "status": "active", "priority": 100, "timezone": "Nowhere/Else"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "timezone" in response.context["adminform"].form.errors
    assert not Location.objects.filter(code="tz").exists()
