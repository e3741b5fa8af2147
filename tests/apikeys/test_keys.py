from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from apps.apikeys.auth import authenticate_key
from apps.apikeys.models import ApiKey
from apps.apikeys.services import api_key_create, api_key_revoke, hash_key
from tests import factories

pytestmark = pytest.mark.django_db


def test_key_is_stored_hashed_with_a_visible_prefix(merchant):
    api_key, raw_key = api_key_create(merchant=merchant, name="Shop")
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert raw_key.startswith("sr_")
    assert len(raw_key) > 40
    assert stored.hashed_key == hash_key(raw_key) != raw_key
    assert raw_key.startswith(stored.prefix)
    assert len(stored.prefix) == 12
    assert not ApiKey.objects.filter(hashed_key=raw_key).exists()


def test_authenticate_key_returns_the_active_key_with_its_merchant(merchant):
    api_key, raw_key = api_key_create(merchant=merchant, name="Shop", read_only=True)
    found = authenticate_key(raw_key)
    assert found.pk == api_key.pk
    assert found.merchant == merchant
    assert found.read_only
    assert authenticate_key(raw_key + "x") is None
    assert authenticate_key("not-a-key") is None
    assert authenticate_key("") is None


def test_revoked_key_and_inactive_merchant_do_not_authenticate(merchant):
    api_key, raw_key = api_key_create(merchant=merchant, name="Shop")
    api_key_revoke(api_key=api_key)
    assert authenticate_key(raw_key) is None
    other = factories.merchant(is_active=False)
    _, other_raw = api_key_create(merchant=other, name="Old")
    assert authenticate_key(other_raw) is None


def test_last_used_is_recorded_at_most_once_a_minute(merchant):
    api_key, raw_key = api_key_create(merchant=merchant, name="Shop")
    authenticate_key(raw_key)
    first = ApiKey.objects.get(pk=api_key.pk).last_used_at
    assert first is not None
    authenticate_key(raw_key)
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at == first
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=first - timedelta(minutes=2))
    authenticate_key(raw_key)
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at > first - timedelta(minutes=1)


def test_create_api_key_command_prints_the_key_once(merchant):
    out, err = StringIO(), StringIO()
    call_command("create_api_key", "--merchant", merchant.code, "--name", "ERP", "--read-only",
                 stdout=out, stderr=err)  # fmt: skip
    raw_key = out.getvalue().strip()
    api_key = authenticate_key(raw_key)
    assert api_key.name == "ERP"
    assert api_key.read_only
    assert api_key.merchant == merchant
    assert raw_key not in err.getvalue()
    assert api_key.prefix in err.getvalue()
    with pytest.raises(CommandError, match="No merchant"):
        call_command("create_api_key", "--merchant", "nope", stdout=out, stderr=err)


def test_admin_creates_a_key_shows_it_once_and_revokes(client, merchant):
    admin = factories.user(is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.post(
        reverse("admin:apikeys_apikey_add"),
        {"merchant": merchant.pk, "name": "Backend", "read_only": ""},
        follow=True,
    )
    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="Backend")
    shown = [str(m) for m in response.context["messages"]]
    raw_key = next(word for m in shown for word in m.split() if word.startswith("sr_"))
    assert authenticate_key(raw_key).pk == api_key.pk
    assert api_key.created_by == admin
    client.post(
        reverse("admin:apikeys_apikey_changelist"),
        {"action": "revoke", "_selected_action": [api_key.pk]},
    )
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert api_key.revoked_at <= timezone.now()
    assert authenticate_key(raw_key) is None


@pytest.fixture
def key_cache(settings):
    from apps.apikeys import auth

    settings.STOCKROOM_API_KEY_CACHE_SECONDS = 60
    auth._recent.clear()
    yield auth
    auth._recent.clear()


def test_a_busy_key_is_looked_up_once_per_interval(key_cache, merchant, django_assert_num_queries):
    api_key, raw_key = api_key_create(merchant=merchant, name="Shop")
    with django_assert_num_queries(2):  # the lookup, and the last-used stamp
        assert authenticate_key(raw_key).pk == api_key.pk
    with django_assert_num_queries(0):
        for _ in range(3):
            assert authenticate_key(raw_key).merchant == merchant


def test_revoking_a_remembered_key_takes_effect_at_once_in_this_process(key_cache, merchant):
    api_key, raw_key = api_key_create(merchant=merchant, name="Shop")
    assert authenticate_key(raw_key) is not None
    api_key_revoke(api_key=api_key)
    assert authenticate_key(raw_key) is None


def test_a_key_revoked_elsewhere_stops_working_when_the_interval_ends(
    key_cache, monkeypatch, merchant
):
    api_key, raw_key = api_key_create(merchant=merchant, name="Shop")
    assert authenticate_key(raw_key) is not None
    # Another process revokes it: this process's memory of the key is untouched.
    ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())
    assert authenticate_key(raw_key) is not None
    later = key_cache.time.monotonic() + 61
    monkeypatch.setattr(key_cache.time, "monotonic", lambda: later)
    assert authenticate_key(raw_key) is None
