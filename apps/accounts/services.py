"""Writes about the people who sign in."""

from axes.utils import reset as axes_reset

from apps.accounts.models import User


def user_sign_in_lockout_lift(*, user: User) -> int:
    """Forget the user's failed sign-ins, from every address, which lifts a lockout: called
    once the user has proved who they are another way (a password reset by email). Returns
    the number of records removed."""
    return axes_reset(username=user.get_username())
