"""Product writes: a product created without a SKU gets one generated from its name."""

import re
from unittest import mock

import pytest

from apps.catalog import services
from apps.catalog.models import Product
from apps.core.errors import InvalidRequest
from tests import factories

pytestmark = pytest.mark.django_db

GENERATED = re.compile(r"^[A-Z0-9-]+-[A-HJKMNP-Z2-9]{6}$")


def test_a_product_without_a_sku_gets_one_from_its_name(merchant):
    product = services.product_create(merchant=merchant, name="Wireless mouse, black")
    assert GENERATED.match(product.sku)
    assert product.sku.startswith("WIRELESS-MOUSE-BLACK-")
    assert Product.objects.get(pk=product.pk).sku == product.sku


@pytest.mark.parametrize(
    ("name", "stem"),
    [("", "SKU"), ("!!!", "SKU"), ("Café crème", "CAFE-CREME"), ("x" * 90, "X" * 40)],
)
def test_generated_skus_are_short_ascii_words(merchant, name, stem):
    sku = services.product_create(merchant=merchant, name=name).sku
    assert sku.rsplit("-", 1)[0] == stem
    assert len(sku) <= 64


def test_a_drawn_sku_that_is_taken_is_drawn_again(merchant):
    factories.product(merchant, sku="MOUSE-AAAAAA")
    draws = iter("A" * 6 + "B" * 6)
    with mock.patch("apps.catalog.services.secrets.choice", side_effect=lambda _: next(draws)):
        product = services.product_create(merchant=merchant, name="Mouse")
    assert product.sku == "MOUSE-BBBBBB"


def test_a_given_sku_is_kept_and_a_taken_one_refused(merchant):
    assert services.product_create(merchant=merchant, sku="TEE-1", name="Tee").sku == "TEE-1"
    with pytest.raises(InvalidRequest) as refused:
        services.product_create(merchant=merchant, sku="TEE-1", name="Tee again")
    assert refused.value.field == "sku"
