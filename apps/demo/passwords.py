"""Demo passwords, and telling whether a demo login still has its own.

A demo password is hashed with a salt derived from the username, so that whether it is still
set shows in the stored hash without hashing anything (a changed password gets a random salt).
A hash with another salt (a password set another way) is checked the slow way, once per hash
and process."""

from __future__ import annotations

import functools

from django.contrib.auth.hashers import check_password, identify_hasher, make_password

from apps.accounts.models import User
from apps.demo.story import DemoPerson


def _salt(person: DemoPerson) -> str:
    return f"stockroomdemo{person.username}".replace("$", "")


def demo_password_hash(person: DemoPerson) -> str:
    """The stored form of the person's demo password (for `User.password`)."""
    return make_password(person.password, salt=_salt(person))


@functools.lru_cache(maxsize=64)
def _matches(password: str, encoded: str) -> bool:
    return check_password(password, encoded)


def has_demo_password(user: User, person: DemoPerson) -> bool:
    """True when `user` can still sign in with the person's demo password."""
    if not user.has_usable_password():
        return False
    try:
        salt = identify_hasher(user.password).decode(user.password).get("salt")
    except (ValueError, NotImplementedError):
        return False
    if salt == _salt(person):
        return True
    return _matches(person.password, user.password)
