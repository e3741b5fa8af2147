from django.core.management.base import BaseCommand, CommandError

from apps.observability.services import ledger_verification_run


class Command(BaseCommand):
    help = (
        "Replay the ledger like inventory_verify and record the result for /metrics "
        "(stockroom_ledger_drift_levels). Exits non-zero on drift."
    )

    def handle(self, *args, **options):
        run = ledger_verification_run()
        for line in run.sample:
            self.stdout.write(line)
        if not run.ok:
            raise CommandError(
                f"Ledger drift in {run.drifted_levels} stock level(s); "
                f"oversold units: {run.oversold_units}."
            )
        self.stdout.write(self.style.SUCCESS("No drift recorded."))
