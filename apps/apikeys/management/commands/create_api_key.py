from django.core.management.base import BaseCommand, CommandError

from apps.apikeys.services import api_key_create
from apps.merchants.models import Merchant


class Command(BaseCommand):
    help = "Create an API key for a merchant and print it (it is shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", required=True, help="Merchant code.")
        parser.add_argument("--name", default="API key", help="What uses the key.")
        parser.add_argument(
            "--read-only", action="store_true", help="The key may read but not change anything."
        )

    def handle(self, *args, merchant: str, name: str, read_only: bool, **options):
        try:
            owner = Merchant.objects.get(code=merchant)
        except Merchant.DoesNotExist:
            raise CommandError(f"No merchant with code '{merchant}'.") from None
        api_key, raw_key = api_key_create(merchant=owner, name=name, read_only=read_only)
        access = "read-only" if api_key.read_only else "read-write"
        self.stderr.write(
            f"Created {access} key {api_key.prefix}… '{api_key.name}' for {owner.code}. "
            "Store it now: it cannot be shown again."
        )
        self.stdout.write(raw_key)
