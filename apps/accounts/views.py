"""Sign-in pages around Django's own: a password reset by email, for the admin's staff."""

import math

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.accounts.services import user_sign_in_lockout_lift


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's "set a new password" step; a user who was locked out after wrong passwords
    can sign in with the new one at once."""

    def form_valid(self, form):
        response = super().form_valid(form)
        user_sign_in_lockout_lift(user=form.user)
        return response


def sign_in_locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """django-axes' answer to a sign-in while its user and address are locked out: 429 with
    how long to wait and the way out (a password reset), never the login form again."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    minutes = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    context = {
        "title": "Too many failed sign-ins", "username": username,
        "failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes,
    }  # fmt: skip
    response = render(request, "admin/login_locked_out.html", context, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response
