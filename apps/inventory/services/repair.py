"""Repair: put balances back to what the ledger says."""

from django.db import transaction
from django.db.models import Count, Sum

from apps.inventory.models import LedgerEntry
from apps.inventory.services import quantities


@transaction.atomic
def stock_level_rebuild_from_ledger(*, stock_level_id: int) -> dict[str, int]:
    """Recompute one level's quantities and version from its ledger and store them.
    The ledger is append-only and is the truth; this writes no ledger row."""
    totals = LedgerEntry.objects.filter(stock_level_id=stock_level_id).aggregate(
        on_hand=Sum("on_hand_delta", default=0),
        reserved=Sum("reserved_delta", default=0),
        damaged=Sum("damaged_delta", default=0),
        in_transit=Sum("in_transit_delta", default=0),
        version=Count("id"),
    )
    quantities.rebuild_level_balances(stock_level_id, totals)
    return totals
