"""REMOTE_ADDR is the client: taken from X-Forwarded-For only when our own proxy says it."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from rest_framework.test import APIClient

from apps.core.middleware import TrustedProxyMiddleware
from tests.api.test_auth import assert_problem


def client_address(monkeypatch, peer: str, forwarded: str | None, trusted: str = "10.0.0.2"):
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", trusted)
    seen = {}

    def view(request):
        seen["address"] = request.META["REMOTE_ADDR"]
        return HttpResponse()

    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    TrustedProxyMiddleware(view)(RequestFactory().get("/", REMOTE_ADDR=peer, **headers))
    return seen["address"]


def test_a_trusted_proxy_names_the_client(monkeypatch):
    assert client_address(monkeypatch, "10.0.0.2", "198.51.100.7") == "198.51.100.7"
    # A client's own X-Forwarded-For is passed on by the proxy: the right-most address that
    # is not a proxy of ours is the one the proxy saw.
    assert client_address(monkeypatch, "10.0.0.2", "1.1.1.1, 198.51.100.7") == "198.51.100.7"
    assert (
        client_address(monkeypatch, "10.0.0.2", "198.51.100.7, 10.0.0.3", "10.0.0.2,10.0.0.3")
        == "198.51.100.7"
    )


def test_anyone_else_s_header_is_ignored(monkeypatch):
    assert client_address(monkeypatch, "203.0.113.9", "198.51.100.7") == "203.0.113.9"
    assert client_address(monkeypatch, "10.0.0.2", None) == "10.0.0.2"


@pytest.mark.django_db
def test_a_forged_header_does_not_buy_a_fresh_budget(settings, monkeypatch):
    """Requests without credentials are counted by address: one from an untrusted peer that
    sends a new X-Forwarded-For each time is still counted on its own address."""
    settings.STOCKROOM_API_ANONYMOUS_RATE_LIMIT = "3/min"
    client = APIClient(REMOTE_ADDR="203.0.113.9")
    for n in range(3):
        response = client.get("/api/v1/products/", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
        assert response.status_code == 401
    forged = client.get("/api/v1/products/", HTTP_X_FORWARDED_FOR="198.51.100.99")
    assert_problem(forged, 429, "throttled")
