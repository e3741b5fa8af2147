"""The demo tells a month's story through the services, and loading it again changes nothing."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.accounts.models import User
from apps.alerts.models import Alert
from apps.demo.selectors import demo_logins
from apps.demo.services import demo_load
from apps.demo.story import HISTORY_DAYS, MERCHANTS, PEOPLE
from apps.inventory.ledger_replay import find_drift, oversold_units
from apps.inventory.models import LedgerEntry, Reservation, StockLevel, Transfer
from apps.merchants.models import Membership, Merchant
from apps.reports import selectors
from apps.reports.models import StockSnapshot

pytestmark = pytest.mark.django_db

EVERY_KIND_OF_MOVE = {
    "receive", "sale", "adjust", "count", "damage", "write_off", "reserve", "release", "expire",
    "commit", "transfer_out", "transfer_in_transit", "transfer_in", "return", "configure",
}  # fmt: skip


def test_a_month_of_history_through_the_services():
    result = demo_load()

    assert result.merchants_created == ["acme", "globex"]
    assert sorted(result.users_created) == sorted(person.username for person in PEOPLE)
    assert find_drift() == []
    assert oversold_units() == 0
    assert set(LedgerEntry.objects.values_list("reason", flat=True)) == EVERY_KIND_OF_MOVE
    today = timezone.now().date()
    first = today - timedelta(days=HISTORY_DAYS)
    days = {entry.date() for entry in LedgerEntry.objects.values_list("created_at", flat=True)}
    assert days == {first + timedelta(days=n) for n in range(HISTORY_DAYS + 1)}
    # One snapshot per level and per past day, matching the ledger replayed to that day.
    levels = StockLevel.objects.count()
    assert levels == sum(len(m.products) * len(m.locations) for m in MERCHANTS)
    assert StockSnapshot.objects.count() == levels * HISTORY_DAYS
    admin = User.objects.get(username="admin")
    scope = selectors.ReportScope(admin)
    assert len(selectors.stock_history(scope)) == HISTORY_DAYS
    middle = first + timedelta(days=15)
    from_snapshot, source = selectors.stock_as_of(scope, middle)
    assert source == "snapshot"
    StockSnapshot.objects.filter(date=middle).delete()
    from_ledger, source = selectors.stock_as_of(scope, middle)
    assert source == "ledger"
    assert from_snapshot == from_ledger
    # The charts and lists have a month to show.
    per_day = selectors.movements_per_day(scope)
    assert all(day["movements"] > 0 for day in per_day[1:-1])
    movers = selectors.top_movers(scope)
    assert len(movers) == 10
    assert movers[0]["units"] > movers[-1]["units"] > 0
    assert selectors.low_stock(scope) or selectors.out_of_stock(scope)
    assert Alert.objects.filter(kind=Alert.Kind.LOW_STOCK, status="triggered").exists()
    # Today: an order waits for payment and a transfer is on the road, at each merchant.
    today_start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    assert Reservation.objects.filter(status="active", created_at__gte=today_start).count() == 2
    assert Transfer.objects.filter(status="in_transit", shipped_at__gte=today_start).count() == 2
    assert not Reservation.objects.filter(status="active", created_at__lt=today_start).exists()
    assert set(Reservation.objects.values_list("status", flat=True)) == {
        "active", "committed", "released", "expired",
    }  # fmt: skip


def test_people_and_their_access():
    demo_load()

    roles = {
        (m.user.username, m.merchant.code): (m.role, sorted(loc.code for loc in m.locations.all()))
        for m in Membership.objects.select_related("user", "merchant")
    }
    assert roles == {
        ("admin", "acme"): ("owner", []),
        ("admin", "globex"): ("owner", []),
        ("owner", "acme"): ("owner", []),
        ("manager", "acme"): ("manager", ["main-wh"]),
        ("viewer", "acme"): ("viewer", []),
    }
    users = {user.username: user for user in User.objects.all()}
    assert users["admin"].is_superuser
    assert all(user.is_staff for user in users.values())
    assert not any(users[name].is_superuser for name in ("owner", "manager", "viewer"))
    for person in PEOPLE:
        assert users[person.username].check_password(person.password)
    assert [login.username for login in demo_logins()] == ["admin", "owner", "manager", "viewer"]


def test_loading_again_adds_nothing_and_keeps_changed_passwords_and_access():
    demo_load()
    owner = User.objects.get(username="owner")
    owner.set_password("a-password-of-my-own")
    owner.save()
    Membership.objects.filter(user__username="viewer").delete()
    Merchant.objects.get(code="acme").locations.filter(code="soho").update(name="Soho flagship")
    counts = {
        model: model.objects.count()
        for model in (LedgerEntry, Reservation, Transfer, StockSnapshot, Alert, Membership, User)
    }

    result = demo_load()

    assert (result.merchants_created, result.users_created, result.snapshot_days) == ([], [], 0)
    assert {model: model.objects.count() for model in counts} == counts
    owner.refresh_from_db()
    assert owner.check_password("a-password-of-my-own")
    assert not owner.check_password("stockroom-owner")
    assert not Membership.objects.filter(user__username="viewer").exists()
    assert Merchant.objects.get(code="acme").locations.get(code="soho").name == "Soho flagship"
    assert [login.username for login in demo_logins()] == ["admin", "manager", "viewer"]


def test_the_command_prints_the_logins_that_still_work(capsys):
    call_command("seed_demo")
    User.objects.filter(username="manager").update(is_active=False)
    admin = User.objects.get(username="admin")
    admin.set_password("changed-by-the-admin")
    admin.save()

    call_command("seed_demo")

    out = capsys.readouterr().out
    assert "Demo data loaded: acme, globex with 30 days of history." in out
    assert "owner / stockroom-owner" in out
    again = out.split("already loaded")[1]
    assert "admin / stockroom-admin" not in again
    assert "admin: cannot sign in with the demo password" in again
    assert "manager: cannot sign in with the demo password" in again
    assert "viewer / stockroom-viewer" in again
