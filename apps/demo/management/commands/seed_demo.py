"""Load the demo (see `apps.demo.services.demo_load`) and print its logins. Safe to run again:
it adds what is missing and changes nothing that exists, passwords included."""

from django.core.management.base import BaseCommand

from apps.demo.selectors import demo_logins
from apps.demo.services import demo_load
from apps.demo.story import HISTORY_DAYS, PEOPLE


class Command(BaseCommand):
    help = (
        f"Create the demo merchants, their locations, products and {HISTORY_DAYS} days of stock "
        "history, and the demo logins (idempotent; existing passwords are kept)."
    )

    def handle(self, *args, **options):
        result = demo_load()
        if result.merchants_created:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo data loaded: {', '.join(result.merchants_created)} with "
                    f"{HISTORY_DAYS} days of history."
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS("Demo data ready (already loaded)."))
        logins = {login.username: login for login in demo_logins()}
        width = (
            max(len(person.username) for person in PEOPLE)
            + len(" / ")
            + max(len(person.password) for person in PEOPLE)
        )
        for person in PEOPLE:
            login = logins.get(person.username)
            credentials = (
                f"{person.username} / {person.password}"
                if login
                else f"{person.username}: cannot sign in with the demo password"
            )
            self.stdout.write(f"  {credentials:<{width}}  {person.role}")
