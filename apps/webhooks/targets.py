"""Where a webhook may be sent: public addresses only, unless the operator allows more.

A webhook URL is chosen by a merchant's owner, but the request leaves from inside the
deployment, so a URL naming a loopback, private, link-local, reserved or multicast address (the
cloud metadata service at 169.254.169.254, the database, Redis, an internal admin page) would
let an owner reach what only the deployment can reach. Such targets are refused when an endpoint
is saved and again for every attempt: the name is resolved once, every address it resolves to
is checked, and the connection goes to a checked address (so a name that re-resolves to a
private address between the check and the connection, DNS rebinding, reaches nothing). Names
and addresses are never trusted by spelling: `localhost`, `0x7f.1`, `2130706433`,
`[::ffff:127.0.0.1]` and `127.0.0.1.nip.io` all resolve to loopback and are refused.

`STOCKROOM_WEBHOOK_ALLOWED_NETWORKS` (CIDR networks or single addresses) lets an operator allow
internal receivers, e.g. `10.20.0.0/16` for partners on a private link.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_PORTS = {"http": 80, "https": 443}
# 6to4 (2002::/16) carries an IPv4 address inside; NAT64 (64:ff9b::/96) is refused as reserved.
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


class WebhookTargetRefused(Exception):
    """The URL cannot be used as a webhook target; the message says why and what to do."""


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook URL whose every address passed the check: connect only to `addresses`."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        """An HTTP(S) connection to the checked addresses that sends `Host: <host>` and, for
        https, verifies the certificate for `host` (SNI included)."""
        if self.scheme == "https":
            return _PinnedHTTPSConnection(self.host, self.port, self.addresses, timeout)
        return _PinnedHTTPConnection(self.host, self.port, self.addresses, timeout)


def _allowed_networks() -> tuple[IPNetwork, ...]:
    return _parse_networks(tuple(settings.STOCKROOM_WEBHOOK_ALLOWED_NETWORKS))


@cache
def _parse_networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)
    except ValueError as error:
        raise ImproperlyConfigured(f"STOCKROOM_WEBHOOK_ALLOWED_NETWORKS: {error}") from error


def _reached(address: IPAddress) -> list[IPAddress]:
    """The addresses a connection to `address` reaches: an IPv4-mapped IPv6 address is its
    IPv4 address, a 6to4 address both itself and the IPv4 address inside it."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return [address.ipv4_mapped]
        if address in SIX_TO_FOUR:
            return [address, address.sixtofour]
    return [address]


def _non_public_kind(address: IPAddress) -> str | None:
    """What makes an address unfit for a webhook, or None when it is public."""
    for kind, flagged in (
        ("an unspecified", address.is_unspecified),
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("a private", address.is_private),
        ("a reserved", address.is_reserved),
    ):
        if flagged:
            return f"{kind} address"
    if not address.is_global:  # 100.64.0.0/10 and other special-purpose ranges
        return "a non-public (special-purpose) address"
    return None


def refusal_reason(address: str) -> str | None:
    """Why a webhook may not go to this address, or None when it may."""
    ip = ipaddress.ip_address(address)
    reached = _reached(ip)
    allowed = _allowed_networks()
    if any(candidate in network for candidate in {ip, *reached} for network in allowed):
        return None
    for candidate in reached:
        kind = _non_public_kind(candidate)
        if kind is not None:
            shown = str(ip) if candidate == ip else f"{ip} ({candidate})"
            return f"{shown}, {kind}"
    return None


def webhook_target_resolve(url: str) -> WebhookTarget:
    """Parse a webhook URL, resolve its host once and check every address it resolves to.

    Raises WebhookTargetRefused when the URL is not http(s), its host does not resolve, or any
    of its addresses is not public and not in STOCKROOM_WEBHOOK_ALLOWED_NETWORKS.
    """
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError as error:
        raise WebhookTargetRefused(f"The URL is not valid: {error}.") from error
    if scheme not in DEFAULT_PORTS or not host:
        raise WebhookTargetRefused("Use an http(s) URL with a host name.")
    port = port or DEFAULT_PORTS[scheme]
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:
        raise WebhookTargetRefused(
            f"The host {host} cannot be resolved ({error}): check the name."
        ) from error
    addresses = tuple(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in found))
    for address in addresses:
        reason = refusal_reason(address)
        if reason is not None:
            raise WebhookTargetRefused(
                f"{host} resolves to {reason}: webhooks go to public addresses only (an "
                "operator can allow internal networks with STOCKROOM_WEBHOOK_ALLOWED_NETWORKS)."
            )
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return WebhookTarget(scheme, host, port, path, addresses)


def validate_webhook_url(url: str) -> None:
    """Field validator: the URL can be delivered to (see webhook_target_resolve)."""
    try:
        webhook_target_resolve(url)
    except WebhookTargetRefused as refused:
        raise ValidationError(str(refused), code="webhook_target_refused") from refused


def _connect_first(addresses: tuple[str, ...], port: int, timeout: float) -> socket.socket:
    """A TCP connection to the first of the checked addresses that answers."""
    error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as failure:
            error = failure
    raise error or OSError("no address to connect to")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, addresses: tuple[str, ...], timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def connect(self) -> None:
        self.sock = _connect_first(self.addresses, self.port, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, addresses: tuple[str, ...], timeout: float):
        self.tls = ssl.create_default_context()  # read per connection: picks up CA changes
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.addresses = addresses

    def connect(self) -> None:
        sock = _connect_first(self.addresses, self.port, self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
