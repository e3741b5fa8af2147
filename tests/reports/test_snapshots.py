from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.reports.models import StockSnapshot
from apps.reports.tasks import snapshot_take_daily
from tests import factories

pytestmark = pytest.mark.django_db


def test_command_backfills_and_task_takes_yesterday(product, location):
    factories.stock(product, location, 4)
    today = timezone.now().date()
    out = StringIO()
    call_command("reports_snapshot", "--date", today.isoformat(), "--days", "2", stdout=out)
    assert f"{today}: 1 stock levels" in out.getvalue()
    assert f"{today - timedelta(days=1)}: 0 stock levels" in out.getvalue()
    snapshot = StockSnapshot.objects.get()
    assert (snapshot.date, snapshot.on_hand, snapshot.available) == (today, 4, 4)
    assert snapshot_take_daily.delay().get() == 0  # nothing existed yesterday
    with pytest.raises(CommandError, match="future"):
        call_command("reports_snapshot", "--date", (today + timedelta(days=1)).isoformat())
