from django.core.management.base import BaseCommand, CommandError

from apps.inventory.ledger_replay import find_drift, oversold_units


class Command(BaseCommand):
    help = "Replay the ledger and compare every stock balance with it. Exits non-zero on drift."

    def add_arguments(self, parser):
        parser.add_argument(
            "--limit", type=int, default=None, help="Report at most this many levels."
        )

    def handle(self, *args, limit=None, **options):
        drifts = find_drift(limit=limit)
        oversold = oversold_units()
        for drift in drifts:
            self.stdout.write(drift.describe())
        if drifts or oversold:
            raise CommandError(
                f"Ledger drift in {len(drifts)} stock level(s); oversold units: {oversold}."
            )
        self.stdout.write(
            self.style.SUCCESS(
                "No drift: every balance equals its ledger replay. Oversold units: 0."
            )
        )
