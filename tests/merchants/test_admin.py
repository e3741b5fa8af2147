import pytest
from django.urls import reverse

from tests.admin_helpers import Role, logged_in, staff

pytestmark = pytest.mark.django_db


def test_owner_sees_the_memberships_of_their_merchant_only(client, merchant, other_merchant):
    owner = staff(merchant, Role.OWNER)
    colleague = staff(merchant, Role.VIEWER)
    stranger = staff(other_merchant, Role.OWNER)
    logged_in(client, owner)
    page = client.get(reverse("admin:merchants_membership_changelist"))
    users = {m.user for m in page.context["cl"].result_list}
    assert users == {owner, colleague}
    assert stranger not in users
    membership = colleague.memberships.get()
    url = reverse("admin:merchants_membership_change", args=[membership.pk])
    assert client.post(url, {"role": "owner"}).status_code == 403
    assert client.get(reverse("admin:merchants_membership_add")).status_code == 403


def test_managers_do_not_see_memberships(client, merchant):
    logged_in(client, staff(merchant, Role.MANAGER))
    assert client.get(reverse("admin:merchants_membership_changelist")).status_code == 403
    merchants = client.get(reverse("admin:merchants_merchant_changelist"))
    assert list(merchants.context["cl"].result_list) == [merchant]
