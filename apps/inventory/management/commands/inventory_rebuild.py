from django.core.management.base import BaseCommand
from django.db import transaction

from apps.inventory.ledger_replay import find_drift
from apps.inventory.services.repair import stock_level_rebuild_from_ledger


class Command(BaseCommand):
    help = "Recompute balances from the ledger. Dry run by default; --apply writes them."

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="Write the replayed balances.")

    def handle(self, *args, apply=False, **options):
        drifts = find_drift()
        if not drifts:
            self.stdout.write(self.style.SUCCESS("Nothing to rebuild: balances equal the ledger."))
            return
        for drift in drifts:
            self.stdout.write(("REBUILD " if apply else "WOULD REBUILD ") + drift.describe())
            if apply:
                with transaction.atomic():
                    stock_level_rebuild_from_ledger(stock_level_id=drift.stock_level_id)
        if apply:
            self.stdout.write(
                self.style.SUCCESS(f"Rebuilt {len(drifts)} stock level(s) from the ledger.")
            )
        else:
            self.stdout.write(
                f"{len(drifts)} stock level(s) differ. Run again with --apply to rebuild."
            )
