import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from apps.observability.models import LedgerVerification
from apps.observability.tasks import ledger_verify
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_task_records_a_clean_verification(product, location):
    factories.stock(product, location, 3)
    result = ledger_verify.delay().get()
    run = LedgerVerification.objects.get()
    assert result == {"id": run.pk, "drifted_levels": 0, "oversold_units": 0}
    assert run.ok
    assert run.started_at <= run.finished_at


def test_the_command_records_drift_and_fails(product, location, capsys):
    level = factories.stock(product, location, 3)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE inventory_stocklevel SET on_hand = 1 WHERE id = %s", [level.pk])
    with pytest.raises(CommandError, match="drift in 1 stock level"):
        call_command("ledger_verify_record")
    run = LedgerVerification.objects.get()
    assert (run.drifted_levels, run.oversold_units, run.ok) == (1, 0, False)
    assert f"{product.sku}@{location.code}" in capsys.readouterr().out


def test_old_runs_are_pruned(monkeypatch):
    from apps.observability import services

    monkeypatch.setattr(services, "KEEP_RUNS", 3)
    for _ in range(5):
        services.ledger_verification_run()
    assert LedgerVerification.objects.count() == 3
