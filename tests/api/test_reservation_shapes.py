"""The reservation endpoint's shortcuts agree with the serializers they stand in for: the
plain one-line body is read exactly as ReservationRequestSerializer reads it, and a
reservation is written out exactly as DRF would write ReservationSerializer's fields."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import serializers

from apps.inventory.api import serializers as s
from apps.inventory.api.lines import LocatedLine, one_located_line
from apps.inventory.models import MAX_QUANTITY
from tests import factories

text = st.one_of(
    st.text(max_size=70),
    st.sampled_from(["SKU-1", " padded ", "", "a" * 64, "a" * 65, "nul\x00", "\ud800x", "loc"]),
)
number = st.one_of(
    st.integers(min_value=-3, max_value=MAX_QUANTITY + 3),
    st.sampled_from([0, 1, MAX_QUANTITY, True, 2.0, "3", None]),
)
line = st.dictionaries(
    st.sampled_from(["sku", "location", "quantity", "qty"]), st.one_of(text, number), max_size=4
)
body = st.one_of(
    st.fixed_dictionaries(
        {"lines": st.lists(line, min_size=0, max_size=2)},
        optional={
            "ttl_seconds": number,
            "order_ref": st.one_of(text, st.none()),
            "near": st.none(),
            "ttl": number,
        },
    ),
    st.none(),
    st.lists(line),
)


@settings(max_examples=400, deadline=None)
@given(body)
def test_the_plain_shape_is_read_as_the_serializer_reads_it(data):
    fast = one_located_line(data)
    if fast is None:
        return  # the serializer decides, as for any other body
    validated = s.ReservationRequestSerializer(data=data)
    assert validated.is_valid(), validated.errors
    (expected_line,) = validated.validated_data["lines"]
    assert fast == LocatedLine(
        sku=expected_line["sku"],
        location=expected_line["location"],
        quantity=expected_line["quantity"],
        ttl_seconds=validated.validated_data.get("ttl_seconds"),
        order_ref=validated.validated_data.get("order_ref", ""),
    )


def test_the_plain_shape_is_recognised():
    data = {"lines": [{"sku": "A-1", "location": "main", "quantity": 2}], "order_ref": "W-1"}
    assert one_located_line(data) == LocatedLine("A-1", "main", 2, None, "W-1")
    assert one_located_line({**data, "near": None}) is None
    assert one_located_line({"lines": [{"sku": "A-1", "quantity": 2}]}) is None


class _DRFReservation(s.ReservationSerializer):
    """ReservationSerializer with DRF's own field-by-field representation."""

    def to_representation(self, instance):
        return serializers.Serializer.to_representation(self, instance)


@pytest.mark.django_db
@pytest.mark.parametrize("closed", [False, True])
def test_a_reservation_is_written_out_as_drf_would(merchant, product, location, closed):
    factories.stock(product, location, 10)
    from apps.inventory import services

    reservation = services.reservation_create(
        merchant=merchant,
        lines=[services.ReservationLineRequest(product=product, location=location, quantity=2)],
        actor=None,
        idempotency_key=factories.key(),
        order_ref="WEB-9",
    )
    if closed:
        reservation.closed_at = timezone.now() + timedelta(microseconds=1)
        reservation.expires_at = timezone.now() - timedelta(seconds=1)  # reads as expired
    assert s.ReservationSerializer(reservation).data == _DRFReservation(reservation).data
