"""The SSRF guard: which URLs Pixline calls, and the addresses it may connect to for them.

Checked when an endpoint is registered and again before every attempt (DNS answers change). The sender connects
to an address this module checked, never to a fresh resolution of the name, so no DNS rebinding slips in between.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.exceptions import WebhookUrlRefused

MAX_URL_LENGTH = 2048
# Carrier-grade NAT (RFC 6598): not private by RFC 1918, yet never a public receiver.
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")
# NAT64 (RFC 6052) embeds an IPv4 address the gateway will reach for us.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# The IPv6 documentation prefix of RFC 9637, which Python 3.11 still calls global.
DOCUMENTATION_V6 = ipaddress.ip_network("3fff::/20")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (the addresses), and what to ask for there (host, port, path)."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def check_url(url: str, allow_http: bool = False, allow_private: bool = False) -> Target:
    """The URL's target with every address it resolves to checked; WebhookUrlRefused says why not."""
    parts = _parts(url, allow_http)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(parts.hostname, port)
    if not allow_private:
        for address in addresses:
            if reason := refusal(ipaddress.ip_address(address)):
                raise WebhookUrlRefused(f"{parts.hostname} resolves to {address}, {reason}.")
    path = parts.path or "/"
    return Target(parts.scheme, parts.hostname, port, path + (f"?{parts.query}" if parts.query else ""), addresses)


def _parts(url: str, allow_http: bool):
    """The URL split, refusing anything but plain http(s) URLs to a host, without credentials."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise WebhookUrlRefused(f"The URL must be a string of at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as error:
        raise WebhookUrlRefused(f"The URL is malformed: {error}.") from None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise WebhookUrlRefused(f"The URL must start with {' or '.join(s + '://' for s in schemes)}.")
    if not parts.hostname:
        raise WebhookUrlRefused("The URL names no host.")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlRefused("The URL must not carry credentials; authenticate receivers by the signature.")
    if parts.fragment:
        raise WebhookUrlRefused("The URL must not have a #fragment.")
    return parts


def resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address host resolves to (WebhookUrlRefused if none)."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookUrlRefused(f"{host} does not resolve: {error}.") from None
    addresses = tuple(dict.fromkeys(answer[4][0] for answer in answers))
    if not addresses:
        raise WebhookUrlRefused(f"{host} resolves to no address.")
    return addresses


def refusal(address: IPAddress) -> str | None:
    """Why an address is not a public receiver's, or None when it is globally routable."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            # The IPv4 address inside is the one reached: judge that one.
            return refusal(embedded)
        if address in DOCUMENTATION_V6:
            return "a documentation address"
    checks = (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        # fec0::/10: deprecated (RFC 3879) yet routed inside some networks; Python 3.11 calls it global.
        ("is_site_local", "a site-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    )
    for attribute, reason in checks:
        if getattr(address, attribute, False):  # IPv4 addresses have no is_site_local
            return reason
    if address in SHARED_ADDRESS_SPACE:
        return "a carrier-grade NAT address"
    if not address.is_global:
        return "not a globally routable address"
    return None
