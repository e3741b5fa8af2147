"""Reads of the demo: the logins that still work with their demo passwords."""

from __future__ import annotations

from dataclasses import dataclass

from apps.accounts.models import User
from apps.demo.passwords import has_demo_password
from apps.demo.story import PEOPLE


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


def demo_logins() -> list[DemoLogin]:
    """The demo people (in `story.PEOPLE` order) whose account exists, is active and still
    has the demo password: none until `seed_demo` ran, and none once they all changed it."""
    users = User.objects.filter(
        username__in=[person.username for person in PEOPLE], is_active=True, is_staff=True
    ).only("username", "password")
    by_name = {user.username: user for user in users}
    return [
        DemoLogin(person.username, person.password, person.role)
        for person in PEOPLE
        if person.username in by_name and has_demo_password(by_name[person.username], person)
    ]
