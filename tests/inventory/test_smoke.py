import pytest

from apps.inventory import services
from apps.inventory.models import LedgerEntry
from tests import factories

pytestmark = pytest.mark.django_db


def test_receive_then_reserve_on_postgresql(merchant, product, location):
    level = factories.stock(product, location, 10)
    reservation = services.reservation_create(
        merchant=merchant,
        lines=[services.ReservationLineRequest(product=product, location=location, quantity=4)],
        actor=None,
        idempotency_key=factories.key(),
    )
    level.refresh_from_db()
    assert (level.on_hand, level.reserved, level.available) == (10, 4, 6)
    assert reservation.status == "active"
    assert LedgerEntry.objects.filter(stock_level=level).count() == level.version == 2
