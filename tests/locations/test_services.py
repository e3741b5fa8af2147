"""Location writes: a location created without a code gets one made from its name."""

import pytest

from apps.core.errors import InvalidRequest
from apps.locations import services
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_location_without_a_code_gets_its_name_as_a_slug(merchant, other_merchant):
    first = services.location_create(merchant=merchant, name="Main Warehouse")
    second = services.location_create(merchant=merchant, name="Main warehouse")
    third = services.location_create(merchant=merchant, name="main  warehouse!")
    theirs = services.location_create(merchant=other_merchant, name="Main Warehouse")
    assert [first.code, second.code, third.code] == [
        "main-warehouse", "main-warehouse-2", "main-warehouse-3",
    ]  # fmt: skip
    assert theirs.code == "main-warehouse"  # codes are per merchant


def test_generated_codes_skip_taken_numbers_and_reserved_words(merchant):
    factories.location(merchant, code="north")
    factories.location(merchant, code="north-2")
    assert services.location_create(merchant=merchant, name="North").code == "north-3"
    assert services.location_create(merchant=merchant, name="Transfer").code == "transfer-2"
    assert services.location_create(merchant=merchant, name="???").code == "location"


def test_a_given_code_is_kept_and_a_taken_one_refused(merchant):
    assert services.location_create(merchant=merchant, code="wh-1", name="A").code == "wh-1"
    with pytest.raises(InvalidRequest) as refused:
        services.location_create(merchant=merchant, code="wh-1", name="B")
    assert refused.value.field == "code"
