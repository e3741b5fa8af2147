"""`/`: a landing page that says what Stockroom is and where to go, with the demo logins only
while they work."""

import re

import pytest
from django.test import Client

from apps.accounts.models import User
from apps.demo.services import demo_load

pytestmark = pytest.mark.django_db

LINK = re.compile(r'<a [^>]*href="([^"]+)"')


def test_the_landing_page_links_to_the_admin_dashboard_api_docs_and_health(client):
    response = client.get("/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "<title>Stockroom</title>" in page
    links = set(LINK.findall(page))
    assert {"/admin/", "/dashboard/", "/api/docs/", "/api/schema/", "/healthz", "/readyz"} <= links
    for link in links:
        followed = Client().get(link)
        if followed.status_code == 302:  # pages for people ask them to sign in first
            assert followed["Location"].startswith("/admin/login/"), link
        else:
            assert followed.status_code == 200, link
    # Nothing was seeded: no logins to show; and this is not the embedded (SQLite) setup.
    assert "Demo logins" not in page
    assert "embedded defaults" not in page


def test_demo_logins_are_shown_while_they_still_work(client):
    demo_load()
    page = client.get("/").content.decode()
    assert "Demo logins" in page
    for username in ("admin", "owner", "manager", "viewer"):
        assert f"<code>{username}</code></td><td><code>stockroom-{username}</code>" in page

    owner = User.objects.get(username="owner")
    owner.set_password("my-own-password")
    owner.save()
    User.objects.filter(username="viewer").update(is_active=False)

    page = client.get("/").content.decode()
    assert "<code>admin</code>" in page
    assert "<code>manager</code>" in page
    assert "stockroom-owner" not in page
    assert "stockroom-viewer" not in page


def test_only_get_and_head_are_answered(client):
    assert client.head("/").status_code == 200
    assert client.post("/").status_code == 405
