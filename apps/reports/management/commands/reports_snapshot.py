"""Take daily stock snapshots: yesterday by default, one given day, or a backfill."""

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.reports.services import snapshot_take


class Command(BaseCommand):
    help = "Store end-of-day stock per level (rebuilt from the ledger). Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--date", type=date.fromisoformat, help="Day to snapshot (YYYY-MM-DD).")
        parser.add_argument(
            "--days", type=int, default=1, help="Backfill this many days ending at --date."
        )

    def handle(self, *args, date=None, days=1, **options):
        last = date or timezone.now().date() - timedelta(days=1)
        if days < 1:
            raise CommandError("--days must be at least 1.")
        for offset in range(days - 1, -1, -1):
            day = last - timedelta(days=offset)
            try:
                rows = snapshot_take(day=day)
            except ValueError as error:
                raise CommandError(str(error)) from error
            self.stdout.write(f"{day}: {rows} stock levels")
