"""The idempotency record lives in core, on the table the inventory app created: moving it
changed Django's state only, so `migrate` on an existing database leaves table and rows alone."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from apps.core.models import IdempotencyRecord
from tests import factories

MOVE = [("core", "0001_idempotency_record"), ("inventory", "0007_idempotency_record_to_core")]


def statements_of(app_label: str, name: str) -> list[str]:
    out = StringIO()
    call_command("sqlmigrate", app_label, name, stdout=out)
    lines = [line.strip() for line in out.getvalue().splitlines()]
    return [line for line in lines if line and not line.startswith("--")]


@pytest.mark.django_db(transaction=True)  # sqlmigrate refuses to render inside a transaction
@pytest.mark.parametrize(("app_label", "name"), MOVE)
def test_the_move_runs_no_sql(app_label, name):
    assert statements_of(app_label, name) in ([], ["BEGIN;", "COMMIT;"])


def test_the_record_keeps_its_table():
    assert IdempotencyRecord._meta.db_table == "inventory_idempotencyrecord"


@pytest.mark.django_db(transaction=True)
def test_records_survive_unapplying_and_reapplying_the_move():
    merchant = factories.merchant()
    record = IdempotencyRecord.objects.create(
        merchant=merchant, key="k-1", operation="stock.receive", fingerprint="f",
        created_at=timezone.now(),
    )  # fmt: skip
    with connection.cursor() as cursor:
        columns = connection.introspection.get_table_description(
            cursor, "inventory_idempotencyrecord"
        )
    call_command("migrate", "core", "zero", verbosity=0)
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        assert (
            connection.introspection.get_table_description(cursor, "inventory_idempotencyrecord")
            == columns
        )
    assert IdempotencyRecord.objects.get(pk=record.pk).key == "k-1"
