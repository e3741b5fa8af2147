"""Helpers for admin tests: staff accounts by role, and reading the page's messages."""

from __future__ import annotations

import re

from django.contrib.messages import get_messages

from apps.accounts.models import User
from apps.merchants.models import Membership, Merchant
from tests import factories

Role = Membership.Role


def staff(merchant: Merchant | None, role: str = Role.OWNER, locations=(), **kwargs) -> User:
    """A staff account with one membership (none when merchant is None)."""
    user = factories.user(merchant, role=role, is_staff=True, **kwargs)
    if locations:
        Membership.objects.get(user=user, merchant=merchant).locations.set(locations)
    return user


def logged_in(client, user: User):
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def idempotency_key(response) -> str:
    """The hidden idempotency key a rendered form carries."""
    match = re.search(r'name="idempotency_key" value="([^"]+)"', response.content.decode())
    assert match, "the form carries no idempotency key"
    return match.group(1)
