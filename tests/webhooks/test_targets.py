"""Webhooks never reach internal addresses: refused when an endpoint is saved and again at
every attempt, after DNS resolution, with no redirect followed and no reply stored.

Only loopback servers are contacted; names are resolved by a resolver these tests control.
"""

import socket
import ssl

import pytest
import trustme
from django.urls import reverse

from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from apps.webhooks.services import webhook_deliver_attempt, webhook_ping
from apps.webhooks.targets import WebhookTargetRefused, refusal_reason, webhook_target_resolve
from tests import factories
from tests.realstack import webhook_receiver

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"
SECRET = b"internal service: secret-token-1234"


class Resolver:
    """socket.getaddrinfo for the names in `answers` (each a list of addresses, or a list of
    lists used in turn, the last repeating); every other name resolves as usual."""

    def __init__(self, real):
        self.real = real
        self.answers: dict[str, list] = {}
        self.calls: list[str] = []

    def __call__(self, host, port, *args, **kwargs):
        if host not in self.answers:
            return self.real(host, port, *args, **kwargs)
        self.calls.append(host)
        answers = self.answers[host]
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if isinstance(answers[0], list):
            answers = answers[min(self.calls.count(host), len(answers)) - 1]
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port),
            )
            for address in answers
        ]


@pytest.fixture
def resolver(monkeypatch):
    fake = Resolver(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture
def nothing_internal(settings):
    """The default configuration: no internal network allowed."""
    settings.STOCKROOM_WEBHOOK_ALLOWED_NETWORKS = []
    return settings


@pytest.fixture
def admin_client(client):
    client.force_login(factories.user(None, is_staff=True, is_superuser=True))
    return client


def add_endpoint(admin_client, merchant, url):
    return admin_client.post(
        reverse("admin:webhooks_webhookendpoint_add"),
        {
            "merchant": merchant.pk, "name": "ERP", "url": url, "event_types": ["stock.changed"],
            "is_active": "on",
        },
    )  # fmt: skip


def ping(endpoint, django_capture_on_commit_callbacks) -> WebhookDelivery:
    with django_capture_on_commit_callbacks(execute=True):
        delivery_id = webhook_ping(endpoint=endpoint)
    return WebhookDelivery.objects.get(pk=delivery_id)


INTERNAL_URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:6379/",
    "http://localhost:8000/admin/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://0.0.0.0:5432/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://[ff02::1]/",
    "http://[2002:7f00:1::]/",  # 6to4 around 127.0.0.1
    "http://127.0.0.1.nip.io/hook",
    "https://rebind.partner.example/hook",
]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_the_admin_refuses_an_endpoint_on_an_internal_address(
    nothing_internal, resolver, admin_client, merchant, url
):
    resolver.answers["127.0.0.1.nip.io"] = ["127.0.0.1"]
    resolver.answers["rebind.partner.example"] = [PUBLIC, "10.0.0.7"]  # one bad record is enough
    response = add_endpoint(admin_client, merchant, url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "webhooks go to public addresses only" in page, page[:3000]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("url", "reached"),
    [
        ("http://2130706433/", "127.0.0.1"),  # decimal, octal and short spellings of loopback
        ("http://017700000001/", "127.0.0.1"),
        ("http://0x7f.1/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://0/", "0.0.0.0"),
    ],
)
def test_every_spelling_of_an_internal_address_is_refused(nothing_internal, url, reached):
    with pytest.raises(WebhookTargetRefused, match=f"resolves to {reached}, a"):
        webhook_target_resolve(url)


def test_public_addresses_pass_and_mapped_addresses_are_judged_by_what_they_reach(
    nothing_internal,
):
    for address in (PUBLIC, "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"):
        assert refusal_reason(address) is None, address
    assert refusal_reason("::ffff:10.0.0.1") == "::ffff:a00:1 (10.0.0.1), a private address"
    assert refusal_reason("100.64.0.1") == "100.64.0.1, a non-public (special-purpose) address"
    assert refusal_reason("169.254.169.254") == "169.254.169.254, a link-local address"


def test_a_public_endpoint_is_accepted_and_an_unresolvable_one_explained(
    nothing_internal, resolver, admin_client, merchant
):
    resolver.answers["erp.partner.example"] = [PUBLIC]
    resolver.answers["typo.partner.example"] = []
    response = add_endpoint(admin_client, merchant, "https://typo.partner.example/hook")
    assert "The host typo.partner.example cannot be resolved" in response.content.decode()
    assert (
        add_endpoint(admin_client, merchant, "https://erp.partner.example/hook").status_code == 302
    )
    assert WebhookEndpoint.objects.get().url == "https://erp.partner.example/hook"


def test_the_operator_allow_list_admits_internal_networks(
    settings, resolver, admin_client, merchant
):
    settings.STOCKROOM_WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16", "fd00:1::/64"]
    resolver.answers["erp.internal"] = ["10.20.4.5"]
    for url in ("http://erp.internal/hook", "http://[fd00:1::5]/hook"):
        assert add_endpoint(admin_client, merchant, url).status_code == 302, url
    assert (
        "10.21.0.1, a private address"
        in add_endpoint(admin_client, merchant, "http://10.21.0.1/").content.decode()
    )
    assert WebhookEndpoint.objects.count() == 2


def test_the_default_refuses_the_loopback_receiver_the_test_settings_allow(
    settings, admin_client, merchant, django_capture_on_commit_callbacks
):
    with webhook_receiver([200], reply=SECRET) as receiver:
        assert add_endpoint(admin_client, merchant, receiver.url).status_code == 302  # allowed
        settings.STOCKROOM_WEBHOOK_ALLOWED_NETWORKS = []
        assert add_endpoint(admin_client, merchant, receiver.url).status_code == 200  # default
    assert WebhookEndpoint.objects.count() == 1


def test_an_attempt_to_an_internal_address_sends_nothing_and_stores_no_reply(
    nothing_internal, merchant, django_capture_on_commit_callbacks
):
    with webhook_receiver([200], reply=SECRET) as internal:
        # An endpoint saved before the check existed (or written around the admin).
        endpoint = WebhookEndpoint.objects.create(
            merchant=merchant, name="Old", url=internal.url, event_types=["stock.changed"]
        )
        delivery = ping(endpoint, django_capture_on_commit_callbacks)
    assert internal.requests == []
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("pending", 1, None)
    assert delivery.response_body == ""
    assert delivery.last_error.startswith("Refused: 127.0.0.1 resolves to 127.0.0.1, a loopback")
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1


def test_a_name_that_rebinds_to_loopback_after_registration_is_refused_at_connect_time(
    nothing_internal, resolver, admin_client, merchant, django_capture_on_commit_callbacks
):
    with webhook_receiver([200], reply=SECRET) as internal:
        resolver.answers["shop.partner.example"] = [PUBLIC]
        url = f"http://shop.partner.example:{internal.port}/hook"
        assert add_endpoint(admin_client, merchant, url).status_code == 302
        resolver.answers["shop.partner.example"] = ["127.0.0.1"]  # the owner's DNS rebinds
        delivery = ping(WebhookEndpoint.objects.get(), django_capture_on_commit_callbacks)
    assert internal.requests == []
    assert delivery.response_code is None
    assert delivery.response_body == ""
    assert "shop.partner.example resolves to 127.0.0.1, a loopback address" in delivery.last_error


def test_an_attempt_resolves_once_and_connects_to_the_address_it_checked(
    resolver, merchant, django_capture_on_commit_callbacks
):
    with webhook_receiver([200]) as partner:
        # First answer allowed (the test settings allow 127.0.0.1); any later one would be the
        # metadata service: a second lookup for the connection would be refused or reach it.
        resolver.answers["erp.partner.example"] = [["127.0.0.1"], ["169.254.169.254"]]
        endpoint = WebhookEndpoint.objects.create(
            merchant=merchant, name="ERP", event_types=["stock.changed"],
            url=f"http://erp.partner.example:{partner.port}/hooks?source=stockroom",
        )  # fmt: skip
        delivery = ping(endpoint, django_capture_on_commit_callbacks)
    assert (delivery.status, delivery.response_code) == ("succeeded", 200)
    assert resolver.calls == ["erp.partner.example"]
    (request,) = partner.requests
    assert request.headers["Host"] == f"erp.partner.example:{partner.port}"


def test_a_redirect_to_an_internal_address_is_not_followed(
    settings, merchant, django_capture_on_commit_callbacks
):
    # The partner is on 127.0.0.2, the one address allowed; it redirects to 127.0.0.1.
    settings.STOCKROOM_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    with (
        webhook_receiver([200], reply=SECRET) as internal,
        webhook_receiver([302], host="127.0.0.2", location=internal.url) as partner,
    ):
        endpoint = WebhookEndpoint.objects.create(
            merchant=merchant, name="ERP", url=partner.url, event_types=["stock.changed"]
        )
        delivery = ping(endpoint, django_capture_on_commit_callbacks)
        assert webhook_deliver_attempt(delivery_id=delivery.pk) is None  # not due: backing off
    assert len(partner.requests) == 1
    assert internal.requests == []
    assert (delivery.status, delivery.response_code) == ("pending", 302)
    assert delivery.last_error == "HTTP 302: redirects are not followed"
    assert SECRET.decode() not in delivery.response_body


def test_https_deliveries_verify_the_certificate_of_the_name_they_resolved(
    resolver, merchant, monkeypatch, tmp_path, django_capture_on_commit_callbacks
):
    authority = trustme.CA()
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # trusted by the delivery
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("erp.partner.example").configure_cert(context)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    resolver.answers["erp.partner.example"] = ["127.0.0.1"]
    resolver.answers["other.partner.example"] = ["127.0.0.1"]
    with webhook_receiver([200], tls=context) as partner:
        good, wrong_name = (
            WebhookEndpoint.objects.create(
                merchant=merchant,
                name=name,
                url=f"https://{name}:{partner.port}/hook",
                event_types=["stock.changed"],
            )
            for name in ("erp.partner.example", "other.partner.example")
        )
        delivered = ping(good, django_capture_on_commit_callbacks)
        refused = ping(wrong_name, django_capture_on_commit_callbacks)
    assert (delivered.status, delivered.response_code) == ("succeeded", 200)
    assert partner.requests[0].headers["Host"] == f"erp.partner.example:{partner.port}"
    assert names[0] == "erp.partner.example"
    assert refused.response_code is None
    assert "CERTIFICATE_VERIFY_FAILED" in refused.last_error
    assert len(partner.requests) == 1
