"""The admin's sign-in: wrong passwords lock a user out from an address for a while, and a
staff member who forgot their password resets it by email (which also lifts a lockout)."""

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from tests.admin_helpers import Role, staff

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")
PASSWORD = "pw-for-tests-1"


def sign_in(client, username, password, address="203.0.113.7"):
    return client.post(
        LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


@pytest.fixture
def person(merchant):
    return staff(merchant, Role.OWNER, email="ops@shop.example")


def test_wrong_passwords_lock_the_user_out_from_that_address(client, settings, person):
    answers = [sign_in(client, person.username, f"guess-{n}").status_code for n in range(35)]
    assert answers == [200] * 4 + [429] * 31  # the fifth wrong password locks
    locked = sign_in(client, person.username, PASSWORD)  # the right one is refused too
    assert locked.status_code == 429
    assert not signed_in(locked)
    page = locked.content.decode()
    assert "locked after 5 wrong passwords in a row" in page
    assert "Try again in 15 minutes" in page
    assert reverse("admin_password_reset") in page
    assert 'name="password"' not in page  # not the login form again
    assert locked["Retry-After"] == "900"
    # Others are not locked out: the same user elsewhere, another user from that address.
    other = staff(person.memberships.get().merchant, Role.VIEWER)
    assert signed_in(sign_in(client, person.username, PASSWORD, address="198.51.100.20"))
    client.logout()
    assert signed_in(sign_in(client, other.username, PASSWORD))


def test_the_lockout_ends_after_the_cool_off(client, person):
    for n in range(5):
        sign_in(client, person.username, f"guess-{n}")
    assert sign_in(client, person.username, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert signed_in(sign_in(client, person.username, PASSWORD))


def test_a_successful_sign_in_clears_the_failures(client, person):
    for n in range(4):
        sign_in(client, person.username, f"typo-{n}")
    assert signed_in(sign_in(client, person.username, PASSWORD))
    client.logout()
    for n in range(4):
        assert sign_in(client, person.username, f"typo-again-{n}").status_code == 200
    assert signed_in(sign_in(client, person.username, PASSWORD))


def test_a_staff_member_resets_a_forgotten_password_by_email(client, person):
    login_page = client.get(LOGIN).content.decode()
    reset_url = reverse("admin_password_reset")
    assert f'href="{reset_url}"' in login_page  # "Forgotten your login credentials?"
    for n in range(5):
        sign_in(client, person.username, f"guess-{n}")  # locked out meanwhile

    assert client.post(reset_url, {"email": "nobody@shop.example"}).status_code == 302
    assert mail.outbox == []  # an unknown address gets the same answer and no mail
    sent = client.post(reset_url, {"email": "ops@shop.example"})
    assert sent["Location"] == reverse("password_reset_done")
    (message,) = mail.outbox
    assert message.to == ["ops@shop.example"]
    link = re.search(r"http://testserver(/reset/\S+/)", message.body).group(1)

    form = client.get(link, follow=True)  # Django swaps the token for a session-bound URL
    assert form.status_code == 200
    new_password = "a-new-long-password-7"
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password}
    )
    assert done["Location"] == reverse("password_reset_complete")
    assert client.get(done["Location"]).status_code == 200

    assert signed_in(sign_in(client, person.username, new_password))  # the lock is lifted
    client.logout()
    assert sign_in(client, person.username, PASSWORD).status_code == 200  # old one is gone
    assert client.get(link).status_code == 200
    assert "invalid" in client.get(link, follow=True).content.decode().lower()  # used once
