import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from apps.inventory import services
from apps.inventory.models import LedgerEntry, StockLevel
from apps.inventory.services import ReservationLineRequest, StockLine
from tests import factories

pytestmark = pytest.mark.django_db


def verify() -> str:
    out = StringIO()
    call_command("inventory_verify", stdout=out)
    return out.getvalue()


def test_verify_passes_on_books_kept_by_the_services(merchant, product, location, other_location):
    factories.stock(product, location, 10)
    services.reservation_create(
        merchant=merchant, lines=[ReservationLineRequest(product, 3, location)], actor=None,
        idempotency_key=factories.key(),
    )  # fmt: skip
    transfer = services.transfer_create(
        merchant=merchant, source_location=location, destination_location=other_location,
        lines=[services.TransferLineRequest(product, 2)], actor=None, idempotency_key=factories.key(),
    )  # fmt: skip
    services.transfer_ship(
        merchant=merchant, transfer_id=transfer.pk, actor=None, idempotency_key=factories.key()
    )
    assert "No drift" in verify()


@pytest.mark.parametrize("tamper", [{"on_hand": 11}, {"damaged": 1}, {"version": 7}])
def test_verify_catches_a_balance_changed_behind_the_ledgers_back(product, location, tamper):
    level = factories.stock(product, location, 10)
    StockLevel.objects.filter(pk=level.pk).update(**tamper)
    with pytest.raises(CommandError, match="drift in 1 stock level"):
        verify()


def test_verify_catches_reserved_units_no_reservation_holds(product, location):
    level = factories.stock(product, location, 10)
    # A reserve ledger row without a reservation behind it: the books agree with the ledger
    # but not with the reservations, which is drift too.
    StockLevel.objects.filter(pk=level.pk).update(reserved=2)
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("inventory_verify", stdout=out)
    assert "reserved stored 2 expected 0" in out.getvalue()


def test_rebuild_is_a_dry_run_until_applied(product, location):
    level = factories.stock(product, location, 10)
    StockLevel.objects.filter(pk=level.pk).update(on_hand=3, version=9)
    out = StringIO()
    call_command("inventory_rebuild", stdout=out)
    assert "WOULD REBUILD" in out.getvalue()
    level.refresh_from_db()
    assert level.on_hand == 3

    call_command("inventory_rebuild", "--apply", stdout=StringIO())
    level.refresh_from_db()
    assert (level.on_hand, level.version) == (10, 1)
    assert "No drift" in verify()


def test_ledger_rows_cannot_be_updated_or_deleted(product, location):
    factories.stock(product, location, 5)
    entry = LedgerEntry.objects.get(reason="receive")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(on_hand_delta=500)
    # Raw SQL, as any other client of the database would send it (the ORM would stop earlier).
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM inventory_ledgerentry WHERE id = %s", [entry.pk])
    assert LedgerEntry.objects.get(pk=entry.pk).on_hand_delta == 5


def test_ledger_rows_say_who_did_what_from_where(merchant, product, location, owner):
    services.stock_receive(
        merchant=merchant, lines=[StockLine(product, location, 4)], actor=owner, idempotency_key="asn-77",
        source="supplier", reference="ASN-77", note="pallet 3",
    )  # fmt: skip
    entry = LedgerEntry.objects.get()
    assert (entry.actor_id, entry.source, entry.reference, entry.note, entry.idempotency_key) == (
        owner.pk, "supplier", "ASN-77", "pallet 3", "asn-77",
    )  # fmt: skip
    assert (entry.on_hand_after, entry.reserved_after, entry.version_after) == (4, 0, 1)


_QUANTITY = r"(on_hand|reserved|damaged|in_transit|allotted)"
QUANTITY_WRITE = re.compile(
    rf"\.{_QUANTITY}\s*[+-]?=(?!=)"  # level.on_hand = ... / level.reserved += ...
    rf"|\b{_QUANTITY}\s*=\s*(models\.)?F\("  # .update(on_hand=F("on_hand") + n)
    rf"|\.update\([^)]*\b{_QUANTITY}\s*="  # .update(on_hand=0)
    rf"|update_fields=[^\]]*[\"']{_QUANTITY}[\"']"  # save(update_fields=["on_hand"])
    r"|UPDATE\s+inventory_(stocklevel|stockbucket)",
    re.IGNORECASE,
)


def test_the_quantity_write_guard_recognises_writes():
    writes = [
        'StockLevel.objects.update(reserved=F("reserved") + 1)',
        "level.on_hand = level.on_hand - 3",
        "level.reserved += 2",
        "StockLevel.objects.filter(pk=1).update(on_hand=0)",
        'level.save(update_fields=["on_hand", "version"])',
        'cursor.execute("update inventory_stocklevel set on_hand = 0")',
        'StockBucket.objects.filter(pk=1).update(allotted=F("allotted") - 1)',
        "UPDATE inventory_stockbucket AS b SET reserved = b.reserved + 1",
    ]
    reads = ['on_hand_after=row["on_hand"]', "if level.on_hand == 3:", "on_hand=level.on_hand,"]
    assert all(QUANTITY_WRITE.search(line) for line in writes)
    assert not any(QUANTITY_WRITE.search(line) for line in reads)


def test_only_the_engine_writes_quantity_columns():
    """A static guard for the rule that one module changes stock."""
    root = Path(__file__).resolve().parents[2] / "apps"
    offenders = []
    for path in root.rglob("*.py"):
        if "migrations" in path.parts or "engine" in path.relative_to(root).parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if QUANTITY_WRITE.search(line):
                offenders.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert offenders == []
